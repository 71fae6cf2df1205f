"""Webhook URLs from Secrets Manager or SSM Parameter Store, cached for a while.

A channel names where its URL lives (`webhook_secret`: a Secrets Manager secret name or ARN;
`webhook_parameter`: an SSM SecureString parameter name). The stored value is the URL itself,
or JSON with a `url` key (`{"url": "https://hooks.slack.com/..."}`), so that a secret can
carry other fields too. The URL is never logged and appears in no error: errors name the
secret or parameter instead.

Values are cached per execution environment for `ttl_seconds`, so a burst of decisions costs
one read, and a rotated URL is picked up within the TTL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from acceptor.aws.clients import AwsClients
from acceptor.aws.errors import (
    AccessDenied,
    AwsError,
    InvalidRequest,
    KeyUnusable,
    NotFound,
    translate,
)
from acceptor.aws.webhook import is_allowed_url
from acceptor.notify.errors import SecretUnavailable
from acceptor.policy.model import SlackChannel, TeamsChannel, WebhookChannel

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

# Why a read failed, by kind of AWS error (acceptor.aws.errors), in words an operator can act on.
REASONS: dict[type[AwsError], str] = {
    NotFound: "does not exist",
    AccessDenied: "is not readable by this function (IAM policy or KMS key policy)",
    KeyUnusable: "cannot be decrypted (KMS key or its key policy)",
    InvalidRequest: "cannot be read as named (not a valid name, or deleted or being deleted)",
}


@dataclass(frozen=True)
class _Cached:
    url: str
    expires_at: float


class WebhookUrls:
    """Reads and caches webhook URLs. Clients are built on the first read that needs them."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = threading.Lock()
        self._readers: dict[str, Callable[[str], str]] = {
            "secret": self._read_secret,
            "parameter": self._read_parameter,
        }

    def url_for(self, channel: SlackChannel | TeamsChannel | WebhookChannel) -> str:
        if channel.webhook_secret is not None:
            key = ("secret", channel.webhook_secret)
        elif channel.webhook_parameter is not None:
            key = ("parameter", channel.webhook_parameter)
        else:  # the policy model refuses this; kept so that a bypassed model fails closed
            raise SecretUnavailable("the channel names neither a secret nor a parameter")
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now < cached.expires_at:
            return cached.url
        kind, name = key
        url = url_from_value(self._readers[kind](name), where=f"{kind} {name!r}")
        with self._lock:
            self._cache[key] = _Cached(url, now + self._ttl)
        return url

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def _read_secret(self, name: str) -> str:
        client = cast("SecretsManagerClient", self._clients.client("secretsmanager"))
        try:
            response = client.get_secret_value(SecretId=name)
        except ClientError as err:
            raise _unavailable(err, f"secret {name!r}") from err
        value = response.get("SecretString")
        if value is None:
            raise SecretUnavailable(f"secret {name!r} holds binary data, not a URL")
        return value

    def _read_parameter(self, name: str) -> str:
        client = cast("SSMClient", self._clients.client("ssm"))
        try:
            response = client.get_parameter(Name=name, WithDecryption=True)
        except ClientError as err:
            raise _unavailable(err, f"parameter {name!r}") from err
        value = response.get("Parameter", {}).get("Value")
        if value is None:
            raise SecretUnavailable(f"parameter {name!r} has no value")
        return value


def url_from_value(value: str, *, where: str) -> str:
    """The URL in a stored value: the value itself, or the `url` key of a JSON object."""
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            # Not chained: the decoder's error object holds the whole secret value.
            raise SecretUnavailable(f"{where} looks like JSON but is not valid JSON") from None
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(url, str):
            raise SecretUnavailable(f"{where} is JSON without a string 'url' key")
        text = url.strip()
    if not is_allowed_url(text):
        raise SecretUnavailable(
            f"{where} does not hold an https URL (or JSON with an https 'url' key)"
        )
    return text


def _unavailable(err: ClientError, where: str) -> SecretUnavailable:
    error = translate(err, where)
    reason = REASONS.get(type(error), "cannot be read")
    return SecretUnavailable(f"{where} {reason} ({error.code})")
