"""Slack signing secrets from Secrets Manager, by the name a Slack channel's `signing_secret`
gives (docs/notifications.md). The stored value is the secret itself, or JSON with a
`signing_secret` key. Values are never logged; errors name the secret, not its value."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from acceptor.aws.clients import AwsClients
from acceptor.aws.errors import translate
from acceptor.aws.secrets import REASONS
from acceptor.policy.model import SlackChannel
from acceptor.policy.policy_set import PolicySet

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SigningSecretUnavailable(Exception):
    pass


def signing_secret_names(policy: PolicySet) -> list[str]:
    """Every `signing_secret` of the policy's Slack channels, each once."""
    names = [
        channel.signing_secret
        for channel in policy.channels.values()
        if isinstance(channel, SlackChannel) and channel.signing_secret is not None
    ]
    return list(dict.fromkeys(names))


class SigningSecrets:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def read(self, names: Iterable[str]) -> list[str]:
        return [self._read(name) for name in names]

    def _read(self, name: str) -> str:
        client = cast("SecretsManagerClient", self._clients.client("secretsmanager"))
        try:
            value = client.get_secret_value(SecretId=name).get("SecretString")
        except ClientError as err:
            error = translate(err, "GetSecretValue")
            reason = REASONS.get(type(error), "cannot be read")
            raise SigningSecretUnavailable(f"secret {name!r} {reason} ({error.code})") from err
        if not value:
            raise SigningSecretUnavailable(f"secret {name!r} holds no text")
        text = value.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                raise SigningSecretUnavailable(f"secret {name!r} is not valid JSON") from None
            found = data.get("signing_secret") if isinstance(data, dict) else None
            if not isinstance(found, str) or not found:
                raise SigningSecretUnavailable(
                    f"secret {name!r} is JSON without a 'signing_secret' key"
                )
            return found
        return text
