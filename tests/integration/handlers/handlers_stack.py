"""The acceptor's stack on the local AWS, for handler tests: the bus and its rules, the Decide
queue, the decision, idempotency and security-group rule tables, the topic for people, a queue
subscribed to the connection notification topic, and the five handlers invoked the way Lambda
invokes them.

Every AWS call the handlers make with their own role is recorded per function (botocore
`before-parameter-build` hooks on the session the handlers' clients come from); calls made
through an assumed consumer role are not the function role's and are not recorded. A call that
tags what it creates (`TagSpecifications`) is also recorded as the `CreateTags` IAM checks it as.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from acceptor.aws.clients import AwsClients, use_clients
from acceptor.flows.telemetry import logger
from acceptor.handlers import approval, decide, ingest, notify, reconcile, security_groups
from acceptor.policy.loader import cached_policy
from acceptor_tools.local_aws import LocalAws
from helpers.aws import LambdaContext
from integration.stack_tables import create_table

BUS = "privatelink-acceptor"
DECISION_TABLE = "privatelink-acceptor-decisions"
IDEMPOTENCY_TABLE = "privatelink-acceptor-idempotency"
RULE_TABLE = "privatelink-acceptor-security-group-rules"
APPROVAL_TABLE = "privatelink-acceptor-approvals"
PEOPLE_TOPIC = "privatelink-acceptor-notifications"
CONSUMER_ROLE = "PrivateLinkAcceptorRead"
MAX_DRAIN_ROUNDS = 500  # bounded reads of a queue: 5,000 messages at most

Setenv = Callable[[str, str], None]


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    """The IAM prefix (botocore's signing name: ec2, events, dynamodb, sts, organizations)."""
    operation: str
    params: Mapping[str, Any]

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


class Stack:
    def __init__(self, aws: LocalAws, folder: Path, setenv: Setenv) -> None:
        self.aws = aws
        self.folder = folder
        self._setenv = setenv
        self.calls: list[Call] = []
        self._function: str | None = None
        self._session = aws.session()
        self._session.events.register("before-parameter-build", self._record)
        self.clients = AwsClients(self._session)
        # Each function's own clients (and assumed-role sessions), as each has its own
        # execution environment in Lambda; all on the recorded session.
        self._function_clients: dict[str, AwsClients] = {}
        self._provision()
        self.services = [s.id for s in aws.world.services.values() if s.acceptance_required]
        self.environment(
            MANAGED_SERVICE_IDS=",".join(self.services),
            DRY_RUN="false",
            EVENT_BUS_NAME=BUS,
            DECISION_TABLE=DECISION_TABLE,
            IDEMPOTENCY_TABLE=IDEMPOTENCY_TABLE,
            APPROVAL_TABLE=APPROVAL_TABLE,
            DECISION_TTL_DAYS="30",
            CONSUMER_ROLE_NAME=CONSUMER_ROLE,
            CONSUMER_ROLE_EXTERNAL_ID="acceptor-test-external-id",
            ORGANIZATIONS_ACCESS="true",
            ORGANIZATIONS_ROLE_ARN="",
            SECURITY_GROUP_RULE_TABLE=RULE_TABLE,
            NOTIFICATION_TOPIC_ARN=self.people_topic,
            CONNECTION_TOPIC_ARN=self.connection_topic,
            ACCEPTOR_ROLE_ARNS=(
                f"arn:aws:iam::{aws.world.provider_account}:role/"
                "privatelink-acceptor-DecideFunctionRole-4B31D0496DC6"
            ),
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_SERVICE_NAME="privatelink-acceptor",
            POWERTOOLS_METRICS_NAMESPACE="PrivateLinkAcceptor",
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
        )

    # the stack

    def _provision(self) -> None:
        events, sqs, dynamodb = (
            self.clients.events(),
            self.clients.client("sqs"),
            self.clients.dynamodb(),
        )
        events.create_event_bus(Name=BUS)
        self.decide_queue = self._queue(sqs, "decide")
        self.observed_queue = self._queue(sqs, "observed")
        self.updates_queue = self._queue(sqs, "security-group-updates")
        self.notification_queue = self._queue(sqs, "notifications")
        for rule, pattern, queue in (
            ("DecideRule", ["Endpoint Connection Requested"], self.decide_queue),
            (
                "ObservedRule",
                ["Endpoint Connection Decided", "Endpoint Connection State Changed"],
                self.observed_queue,
            ),
            (
                "UpdatesRule",
                ["Endpoint Connection Security Groups Updated"],
                self.updates_queue,
            ),
        ):
            events.put_rule(
                Name=rule,
                EventBusName=BUS,
                EventPattern=json.dumps({"source": [BUS], "detail-type": pattern}),
            )
            events.put_targets(
                Rule=rule, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue[1]}]
            )
        topics = {s.notify_topic_arn for s in self.aws.world.services.values()} - {None}
        sns = self.clients.client("sns")
        self.people_topic = sns.create_topic(Name=PEOPLE_TOPIC)["TopicArn"]
        for topic in topics:
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=self.notification_queue[1])
        # The world's topic stands for the stack's: Reconcile keeps notifications to it.
        self.connection_topic = min(topics) if topics else ""
        create_table(dynamodb, "decisions", DECISION_TABLE)
        create_table(dynamodb, "security-group-rules", RULE_TABLE)
        create_table(dynamodb, "idempotency", IDEMPOTENCY_TABLE)
        create_table(dynamodb, "approvals", APPROVAL_TABLE)
        self.calls.clear()

    @staticmethod
    def _queue(sqs: Any, name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def environment(self, **variables: str) -> None:
        for name, value in variables.items():
            self._setenv(name, value)

    def policy(self, text: str) -> None:
        folder = self.folder / "policies"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "acceptor.yaml").write_text(text)
        self.environment(POLICY_PATH=str(folder))
        cached_policy.cache_clear()

    # invoking the functions as Lambda does

    def ingest(self, event: dict[str, Any]) -> Any:
        with self._as("IngestFunction") as context:
            return ingest.handler(event, context)

    def reconcile(self, event_id: str | None = None, *, event: dict[str, Any] | None = None) -> Any:
        """A sweep, from `event` or from a scheduled event with this ID."""
        scheduled = event or {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.aws.world.provider_account,
            "time": "2025-03-04T10:15:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:999988887777:rule/ReconcileSchedule"],
            "detail": {},
        }
        with self._as("ReconcileFunction") as context:
            return reconcile.handler(scheduled, context)

    def decide(self, records: list[dict[str, Any]]) -> Any:
        with self._as("DecideFunction") as context:
            return decide.handler({"Records": records}, context)

    def security_groups(self, event: dict[str, Any]) -> Any:
        with self._as("SecurityGroupsFunction") as context:
            return security_groups.handler(event, context)

    def notify(self, event: dict[str, Any]) -> Any:
        with self._as("NotifyFunction") as context:
            return notify.handler(event, context)

    def approval(self, event: dict[str, Any]) -> Any:
        """A request to the approval URL (`AuthType: AWS_IAM`), as Lambda passes it."""
        with self._as("ApprovalFunction") as context:
            return approval.handler(event, context)

    def slack(self, event: dict[str, Any]) -> Any:
        """A request to the Slack interaction URL (`AuthType: NONE`)."""
        with self._as("SlackInteractionFunction") as context:
            return approval.slack_handler(event, context)

    def approval_record(self, endpoint_id: str) -> dict[str, Any] | None:
        read = TypeDeserializer().deserialize
        item = (
            self.clients.dynamodb()
            .get_item(TableName=APPROVAL_TABLE, Key={"endpoint_id": {"S": endpoint_id}})
            .get("Item")
        )
        return None if item is None else {k: read(v) for k, v in item.items()}

    def clients_of(self, function: str) -> AwsClients:
        """The clients a function's handler uses (built on its first call, or here)."""
        return self._function_clients.setdefault(function, AwsClients(self._session))

    @contextmanager
    def _as(self, function: str) -> Iterator[LambdaContext]:
        use_clients(self.clients_of(function))
        self._function = function
        try:
            yield LambdaContext(
                function_name=f"privatelink-acceptor-{function}", remaining_ms=120_000
            )
        finally:
            self._function = None
            use_clients(None)

    @contextmanager
    def logs(self) -> Iterator[Callable[[], list[dict[str, Any]]]]:
        """The JSON lines the handlers' Powertools logger writes meanwhile."""
        buffer = io.StringIO()
        handler = logger.registered_handler
        if not isinstance(handler, logging.StreamHandler):
            raise TypeError("the Powertools logger has no stream handler")
        previous = handler.setStream(buffer)
        try:
            yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
        finally:
            handler.setStream(previous)

    def _record(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        if self._function is not None:
            service = model.service_model.signing_name
            self.calls.append(Call(self._function, service, model.name, dict(params)))
            if params.get("TagSpecifications"):
                self.calls.append(Call(self._function, service, "CreateTags", dict(params)))

    # reading what happened

    def notifications(self) -> dict[str, Any]:
        """The connection notifications the topic delivered so far, as Lambda's SNS event."""
        records = []
        for message in self._drain(self.notification_queue[0]):
            envelope = json.loads(message["Body"])
            records.append(
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{envelope['TopicArn']}:subscription",
                    "Sns": {
                        "Type": envelope["Type"],
                        "MessageId": envelope["MessageId"],
                        "TopicArn": envelope["TopicArn"],
                        "Subject": envelope.get("Subject"),
                        "Message": envelope["Message"],
                        "Timestamp": envelope["Timestamp"],
                        "SignatureVersion": envelope.get("SignatureVersion", "1"),
                        "Signature": envelope.get("Signature", "EXAMPLE"),
                        "SigningCertUrl": envelope.get("SigningCertURL")
                        or "https://sns.us-east-1.amazonaws.com/cert.pem",
                        "UnsubscribeUrl": envelope.get("UnsubscribeURL")
                        or "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                        "MessageAttributes": {},
                    },
                }
            )
        return {"Records": records}

    def requested(self) -> list[dict[str, Any]]:
        """What the Decide queue received, as the records of Lambda's SQS event."""
        return [self.sqs_record(m) for m in self._drain(self.decide_queue[0])]

    def observed(self) -> list[dict[str, Any]]:
        """Decided and State Changed events put on the bus so far (EventBridge envelopes)."""
        return [self._from_bus(m) for m in self._drain(self.observed_queue[0])]

    def updates(self) -> list[dict[str, Any]]:
        """Security Groups Updated events put on the bus so far (EventBridge envelopes)."""
        return [self._from_bus(m) for m in self._drain(self.updates_queue[0])]

    def _from_bus(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The event as EventBridge delivers it: moto's delivery to a queue leaves out the
        `account` every event carries in AWS (the bus's account)."""
        event: dict[str, Any] = json.loads(message["Body"])
        event.setdefault("account", self.aws.world.provider_account)
        return event

    def sqs_record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message["Attributes"],
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.decide_queue[1],
            "awsRegion": "us-east-1",
        }

    def _drain(self, url: str) -> list[dict[str, Any]]:
        sqs = self.clients.client("sqs")
        messages: list[dict[str, Any]] = []
        for _ in range(MAX_DRAIN_ROUNDS):
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
        raise AssertionError(f"{url} did not drain in {MAX_DRAIN_ROUNDS} reads")

    def state(self, endpoint_id: str) -> str | None:
        found = self.clients.ec2().describe_vpc_endpoint_connections(
            Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}]
        )["VpcEndpointConnections"]
        return found[0]["VpcEndpointState"] if found else None

    def decisions(self, endpoint_id: str) -> list[dict[str, Any]]:
        read = TypeDeserializer().deserialize
        items = self.clients.dynamodb().query(
            TableName=DECISION_TABLE,
            KeyConditionExpression="endpoint_id = :e",
            ExpressionAttributeValues={":e": {"S": endpoint_id}},
        )["Items"]
        decoded = [{k: read(v) for k, v in item.items()} for item in items]
        return [item for item in decoded if item.get("kind") == "decision"]

    def intent(self, endpoint_id: str) -> dict[str, Any] | None:
        read = TypeDeserializer().deserialize
        item = (
            self.clients.dynamodb()
            .get_item(
                TableName=DECISION_TABLE,
                Key={"endpoint_id": {"S": endpoint_id}, "decided_at": {"S": "intent"}},
            )
            .get("Item")
        )
        return None if item is None else {k: read(v) for k, v in item.items()}

    def actions_of(self, function: str) -> list[str]:
        return [c.action for c in self.calls if c.function == function]
