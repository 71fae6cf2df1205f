"""Publish a rendered text message to an SNS topic (the stack's, or one a channel names).

The message attributes (kind, severity, service_id, decision…) let a subscriber filter, e.g. an
e-mail subscription that only wants alerts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from acceptor.aws.clients import AwsClients
from acceptor.aws.errors import (
    AccessDenied,
    AwsError,
    InvalidRequest,
    KeyUnusable,
    NotFound,
    Throttled,
    translate,
)
from acceptor.notify.errors import PublishFailed
from acceptor.notify.render import TextPayload

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

# Why SNS refused, by kind of AWS error (acceptor.aws.errors), in words an operator can act on.
REASONS: dict[type[AwsError], str] = {
    NotFound: "the topic does not exist",
    AccessDenied: "this function may not publish to the topic (IAM or topic policy)",
    KeyUnusable: "the topic's KMS key does not let this function encrypt (or is disabled or gone)",
    InvalidRequest: "SNS refused the message",
    Throttled: "SNS throttled the publish",
}


class SnsPublisher:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def publish(self, topic_arn: str, payload: TextPayload) -> str:
        client = cast("SNSClient", self._clients.client("sns", _region_of(topic_arn)))
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in payload.attributes.items()
            if value
        }
        try:
            response = client.publish(
                TopicArn=topic_arn,
                Subject=payload.subject,
                Message=payload.body,
                MessageAttributes=attributes,
            )
        except ClientError as err:
            error = translate(err, "Publish")
            reason = REASONS.get(type(error), "SNS refused the publish")
            raise PublishFailed(
                f"publishing to {topic_arn} failed: {reason} ({error.code})"
            ) from err
        return response["MessageId"]


def _region_of(topic_arn: str) -> str | None:
    """A topic may live in another region than the function: publish where it is."""
    parts = topic_arn.split(":")
    return parts[3] if len(parts) >= 6 and parts[3] else None
