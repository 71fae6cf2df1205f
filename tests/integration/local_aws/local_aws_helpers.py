"""Shared pieces of the local AWS's own tests: the demo world's names, SQS as an inbox."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from acceptor_tools.local_aws import LocalAws

PROVIDER = "999988887777"
PAYMENTS = "111122223333"
ANALYTICS = "222233334444"
SANDBOX = "444455556666"
PARTNER = "777788889999"
ORDERS_SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
REPORTS_SERVICE = "vpce-svc-0b2c3d4e5f6a78901"
STATUS_SERVICE = "vpce-svc-0c3d4e5f6a7b89012"
REGION = "us-east-1"
WAIT_SECONDS = 10.0


@dataclass
class Inbox:
    """An SQS queue of the provider subscribed to an SNS topic."""

    sqs: Any
    url: str

    def receive(self, count: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """The next `count` messages (SNS envelopes, parsed), waiting at most `timeout`."""
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < deadline:
            batch = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            for message in batch:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            if not batch:
                time.sleep(0.05)
        return received

    def is_empty(self) -> bool:
        return not self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=0).get("Messages")


def subscribe_inbox(aws: LocalAws, topic_arn: str, name: str = "inbox") -> Inbox:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return Inbox(sqs, url)


def create_endpoint(
    aws: LocalAws, account: str, vpc: str, service: str, **extra: Any
) -> dict[str, Any]:
    """An interface endpoint from a world VPC to a world service, by the VPC's account."""
    info = aws.world.vpc(account, vpc)
    request: dict[str, Any] = {
        "VpcEndpointType": "Interface",
        "VpcId": info.id,
        "ServiceName": aws.world.services[service].service_name,
        "SubnetIds": list(info.subnets.values())[:1],
        **extra,
    }
    endpoint: dict[str, Any] = aws.client("ec2", account, info.region).create_vpc_endpoint(
        **request
    )["VpcEndpoint"]
    return endpoint
