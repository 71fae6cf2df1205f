"""The notification adapters against stubbed AWS clients: caching, error translation, and what
is sent (botocore's Stubber checks every request against the service model)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from acceptor.aws.account_names import AccountNames
from acceptor.aws.clients import AwsClients
from acceptor.aws.secrets import WebhookUrls
from acceptor.aws.sns_publish import SnsPublisher
from acceptor.notify.errors import AccountNameUnavailable, PublishFailed, SecretUnavailable
from acceptor.notify.render import TextPayload
from acceptor.policy.model import SlackChannel, TeamsChannel
from helpers.aws import fake_session

HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
SLACK = SlackChannel(type="slack", webhook_secret="privatelink-acceptor/slack-ops")
TEAMS = TeamsChannel(type="teams", webhook_parameter="/privatelink-acceptor/teams")


@pytest.fixture
def clients() -> AwsClients:
    return AwsClients(fake_session())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stub(clients: AwsClients, service: str, region: str | None = None) -> Stubber:
    stubber = Stubber(clients.client(service, region))
    stubber.activate()
    return stubber


def secret_response(value: str) -> dict[str, Any]:
    return {"ARN": "arn:aws:secretsmanager:us-east-1:999988887777:secret:x", "SecretString": value}


def test_secret_is_read_once_within_the_ttl_and_again_after(clients: AwsClients) -> None:
    clock = Clock()
    urls = WebhookUrls(clients, ttl_seconds=300, clock=clock)
    stubber = stub(clients, "secretsmanager")
    expected = {"SecretId": "privatelink-acceptor/slack-ops"}
    stubber.add_response("get_secret_value", secret_response(HOOK), expected)
    stubber.add_response("get_secret_value", secret_response(HOOK + "-rotated"), expected)

    first = urls.url_for(SLACK)
    clock.now += 299
    cached = urls.url_for(SLACK)
    clock.now += 2
    rotated = urls.url_for(SLACK)

    assert (first, cached, rotated) == (HOOK, HOOK, HOOK + "-rotated")
    stubber.assert_no_pending_responses()


def test_parameter_is_read_with_decryption(clients: AwsClients) -> None:
    stubber = stub(clients, "ssm")
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": TEAMS.webhook_parameter, "Type": "SecureString", "Value": HOOK}},
        {"Name": "/privatelink-acceptor/teams", "WithDecryption": True},
    )

    assert WebhookUrls(clients, ttl_seconds=0).url_for(TEAMS) == HOOK


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("ResourceNotFoundException", "does not exist"),
        ("AccessDeniedException", "is not readable by this function"),
        ("DecryptionFailure", "cannot be decrypted"),
        ("SomethingNew", "cannot be read"),
    ],
)
def test_secret_errors_name_the_secret_and_the_cause(
    clients: AwsClients, code: str, words: str
) -> None:
    stub(clients, "secretsmanager").add_client_error("get_secret_value", service_error_code=code)

    with pytest.raises(SecretUnavailable) as raised:
        WebhookUrls(clients, ttl_seconds=300).url_for(SLACK)

    message = str(raised.value)
    assert message.startswith(f"secret 'privatelink-acceptor/slack-ops' {words}")
    assert message.endswith(f"({code})")


def test_failed_read_is_not_cached(clients: AwsClients) -> None:
    stubber = stub(clients, "secretsmanager")
    stubber.add_client_error("get_secret_value", service_error_code="InternalServiceError")
    stubber.add_response("get_secret_value", secret_response(HOOK))
    urls = WebhookUrls(clients, ttl_seconds=300)

    with pytest.raises(SecretUnavailable):
        urls.url_for(SLACK)

    assert urls.url_for(SLACK) == HOOK


def test_binary_secret_is_refused(clients: AwsClients) -> None:
    stub(clients, "secretsmanager").add_response(
        "get_secret_value",
        {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x", "SecretBinary": b"x"},
    )

    with pytest.raises(SecretUnavailable, match="binary"):
        WebhookUrls(clients, ttl_seconds=300).url_for(SLACK)


def test_sns_publish_sends_subject_body_and_attributes_in_the_topics_region(
    clients: AwsClients,
) -> None:
    topic = "arn:aws:sns:eu-west-1:999988887777:security"
    stubber = stub(clients, "sns", "eu-west-1")
    stubber.add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": topic,
            "Subject": "Held: vpce-0a1b2c3d4e5f60718",
            "Message": "body",
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "decision"}},
        },
    )
    payload = TextPayload("Held: vpce-0a1b2c3d4e5f60718", "body", {"kind": "decision", "rule": ""})

    assert SnsPublisher(clients).publish(topic, payload) == "m-1"


def test_sns_refusal_becomes_publish_failed_with_the_reason(clients: AwsClients) -> None:
    topic = "arn:aws:sns:us-east-1:999988887777:people"
    stub(clients, "sns", "us-east-1").add_client_error("publish", service_error_code="NotFound")

    with pytest.raises(PublishFailed, match="the topic does not exist \\(NotFound\\)"):
        SnsPublisher(clients).publish(topic, TextPayload("s", "b"))


def test_account_names_are_looked_up_once_and_only_when_enabled(clients: AwsClients) -> None:
    stubber = stub(clients, "organizations")
    stubber.add_response(
        "describe_account",
        {"Account": {"Id": "111122223333", "Name": "payments-prod"}},
        {"AccountId": "111122223333"},
    )
    names = AccountNames(clients.organizations)

    assert names.name_of("111122223333") == "payments-prod"
    assert names.name_of("111122223333") == "payments-prod"
    assert AccountNames(None).name_of("111122223333") is None
    stubber.assert_no_pending_responses()


def test_account_name_failure_raises_its_own_error(clients: AwsClients) -> None:
    stub(clients, "organizations").add_client_error(
        "describe_account", service_error_code="AccessDeniedException"
    )

    with pytest.raises(AccountNameUnavailable, match="AccessDeniedException"):
        AccountNames(clients.organizations).name_of("111122223333")
