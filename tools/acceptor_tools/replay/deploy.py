"""Create the template's resources in the local AWS, wired exactly as the template says.

The bus, its rules (with the template's own event patterns, so that the local bus matches or
misses an event as AWS would), their targets, the queues with their redrive policies, the SNS
topics and subscriptions, the tables and the endpoint services' connection notifications.

Where AWS would call a Lambda function (a rule target, an SNS subscription, a schedule) the
replay puts a queue of its own in the function's place: it stands in for Lambda's internal
queue of asynchronous invocations, and the replay's poller invokes the function from it.
Beside the template's rules, one rule per bus copies every event to a *tap* queue, so that the
replay can tell which events no rule of the template delivered anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError

from acceptor_tools.replay.app import App, RuleSpec, TableSpec, TargetSpec

TAP_RULE = "replay-tap"
TAP_PATTERN = {"source": [{"prefix": ""}]}  # every event: a prefix of "" matches any source
# Stand-in queue prefixes; they cannot clash with CloudFormation's `stack-LogicalId-SUFFIX` names.
PREFIX = "replay--"

StandInKind = Literal["async", "sns-forward", "tap", "outbox"]


class Clients(Protocol):
    """boto3 clients of the provider account, in the app's region, on the local AWS."""

    def client(self, service: str) -> Any: ...


class DeployError(RuntimeError):
    """The local AWS refused part of the template, as AWS would have refused the deploy."""


@dataclass(frozen=True)
class StandIn:
    kind: StandInKind
    key: str
    """async: the function's logical ID; sns-forward, outbox: the topic ARN; tap: the bus."""
    url: str
    arn: str


@dataclass
class Deployment:
    app: App
    queue_urls: dict[str, str] = field(default_factory=dict)
    """ARN -> URL of every queue: the template's and the stand-ins."""
    stand_ins: dict[str, StandIn] = field(default_factory=dict)
    """URL -> stand-in."""
    subscriptions: dict[tuple[str, str], str] = field(default_factory=dict)
    """(topic ARN, function logical ID) -> ARN of the subscription that stands in for Lambda's."""
    disabled_rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def stand_in_for(self, kind: StandInKind, key: str) -> StandIn | None:
        return next((s for s in self.stand_ins.values() if s.kind == kind and s.key == key), None)


def deploy(app: App, aws: Clients) -> Deployment:
    deployment = Deployment(app=app)
    builder = _Builder(app, aws, deployment)
    builder.tables()
    builder.queues()
    builder.topics()
    builder.buses()
    builder.subscriptions()
    builder.rules()
    builder.taps()
    builder.connection_notifications()
    return deployment


class _Builder:
    def __init__(self, app: App, aws: Clients, deployment: Deployment) -> None:
        self.app = app
        self.sqs = aws.client("sqs")
        self.sns = aws.client("sns")
        self.events = aws.client("events")
        self.dynamodb = aws.client("dynamodb")
        self.ec2 = aws.client("ec2")
        self.deployment = deployment

    def _call(self, what: str, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except ClientError as err:
            raise DeployError(f"{what}: {err.response['Error'].get('Message', err)}") from err

    # --- template resources ---------------------------------------------------------------

    def tables(self) -> None:
        for table in self.app.tables.values():
            self._call(table.logical_id, self.dynamodb.create_table, **_table_request(table))
            ttl = table.properties.get("TimeToLiveSpecification") or {}
            if str(ttl.get("Enabled")).lower() == "true":
                self._call(
                    table.logical_id,
                    self.dynamodb.update_time_to_live,
                    TableName=table.name,
                    TimeToLiveSpecification={
                        "Enabled": True,
                        "AttributeName": ttl["AttributeName"],
                    },
                )

    def queues(self) -> None:
        # A queue's redrive policy names its dead-letter queue, which must exist first.
        pending = dict(self.app.queues)
        while pending:
            ready = [
                q
                for q in pending.values()
                if _dead_letter_of(q.attributes) not in {p.arn for p in pending.values()}
            ]
            if not ready:
                raise DeployError(f"queues redrive into each other: {sorted(pending)}")
            for queue in ready:
                url = self._call(
                    queue.logical_id,
                    self.sqs.create_queue,
                    QueueName=queue.name,
                    Attributes=dict(queue.attributes),
                )["QueueUrl"]
                self.deployment.queue_urls[queue.arn] = url
                del pending[queue.logical_id]

    def topics(self) -> None:
        for topic in self.app.topics.values():
            self._call(
                topic.logical_id,
                self.sns.create_topic,
                Name=topic.name,
                Attributes=dict(topic.attributes),
            )

    def buses(self) -> None:
        for bus in self.app.buses.values():
            if bus.name != "default":
                self._call(bus.logical_id, self.events.create_event_bus, Name=bus.name)

    def subscriptions(self) -> None:
        consumed: set[str] = set()
        for subscription in self.app.subscriptions:
            attributes: dict[str, str] = {}
            if subscription.filter_policy is not None:
                attributes["FilterPolicy"] = json.dumps(subscription.filter_policy)
            if subscription.filter_policy_scope:
                attributes["FilterPolicyScope"] = subscription.filter_policy_scope
            function_id: str | None = None
            if subscription.protocol == "lambda":
                function = self.app.function_for(subscription.endpoint)
                if function is None:
                    self.deployment.notes.append(
                        f"{subscription.logical_id}: {subscription.endpoint} is outside the stack"
                    )
                    continue
                function_id = function.logical_id
                endpoint = self._stand_in("async", function_id).arn
            elif subscription.protocol == "sqs":
                endpoint = subscription.endpoint
                if subscription.raw:
                    attributes["RawMessageDelivery"] = "true"
            else:
                continue  # e-mail, https...: people, whom the outbox stands in for
            arn = self._call(
                subscription.logical_id,
                self.sns.subscribe,
                TopicArn=subscription.topic_arn,
                Protocol="sqs",
                Endpoint=endpoint,
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            if function_id is not None:
                self.deployment.subscriptions[(subscription.topic_arn, function_id)] = arn
            consumed.add(subscription.topic_arn)
        for topic in self.app.topics.values():
            if topic.arn not in consumed:
                outbox = self._stand_in("outbox", topic.arn)
                self._call(
                    topic.logical_id,
                    self.sns.subscribe,
                    TopicArn=topic.arn,
                    Protocol="sqs",
                    Endpoint=outbox.arn,
                    Attributes={"RawMessageDelivery": "false"},
                )

    def rules(self) -> None:
        for rule in self.app.rules:
            request: dict[str, Any] = {
                "Name": rule.name,
                "EventBusName": rule.bus,
                "State": "ENABLED" if rule.enabled else "DISABLED",
            }
            if rule.pattern is not None:
                request["EventPattern"] = json.dumps(rule.pattern)
            if rule.schedule is not None:
                request["ScheduleExpression"] = rule.schedule
            self._call(f"{rule.logical_id} (event pattern)", self.events.put_rule, **request)
            if not rule.enabled:
                # The local bus delivers for disabled rules too; AWS does not: no targets.
                self.deployment.disabled_rules.append(rule.logical_id)
                continue
            targets = [self._target(rule, target) for target in rule.targets]
            if rule.pattern is None:
                # A schedule-only rule matches no event in AWS, but the local bus treats a rule
                # without a pattern as matching every event: its targets are not given to the
                # bus. The replay delivers a scheduled event file to them itself.
                continue
            if targets:
                self._call(
                    rule.logical_id,
                    self.events.put_targets,
                    Rule=rule.name,
                    EventBusName=rule.bus,
                    Targets=targets,
                )

    def _target(self, rule: RuleSpec, target: TargetSpec) -> dict[str, Any]:
        arn = target.arn
        if target.service == "lambda":
            function = self.app.function_for(arn)
            if function is None:
                raise DeployError(f"{rule.logical_id}: target {arn} is not a function here")
            arn = self._stand_in("async", function.logical_id).arn
        elif target.service == "sns":
            arn = self._stand_in("sns-forward", arn).arn
        elif target.service != "sqs":
            raise DeployError(f"{rule.logical_id}: the replay cannot deliver to {arn}")
        entry: dict[str, Any] = {"Id": target.id, "Arn": arn}
        if target.input_transformer:
            entry["InputTransformer"] = dict(target.input_transformer)
        return entry

    def taps(self) -> None:
        for bus in sorted({"default", *(b.name for b in self.app.buses.values())}):
            tap = self._stand_in("tap", bus)
            self._call(
                f"tap on {bus}",
                self.events.put_rule,
                Name=TAP_RULE,
                EventBusName=bus,
                EventPattern=json.dumps(TAP_PATTERN),
            )
            self._call(
                f"tap on {bus}",
                self.events.put_targets,
                Rule=TAP_RULE,
                EventBusName=bus,
                Targets=[{"Id": "replay-tap", "Arn": tap.arn}],
            )

    def connection_notifications(self) -> None:
        for notification in self.app.connection_notifications:
            self._call(
                notification.logical_id,
                self.ec2.create_vpc_endpoint_connection_notification,
                ServiceId=notification.service_id,
                ConnectionNotificationArn=notification.topic_arn,
                ConnectionEvents=list(notification.events),
            )

    # --- the replay's own queues ----------------------------------------------------------

    def _stand_in(self, kind: StandInKind, key: str) -> StandIn:
        existing = self.deployment.stand_in_for(kind, key)
        if existing is not None:
            return existing
        index = len(self.deployment.stand_ins)
        name = f"{PREFIX}{kind}-{index}-{_safe(key)}"[:80]
        url = self._call(name, self.sqs.create_queue, QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        stand_in = StandIn(kind=kind, key=key, url=url, arn=arn)
        self.deployment.stand_ins[url] = stand_in
        self.deployment.queue_urls[arn] = url
        return stand_in


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.rsplit(":", 1)[-1])


def _dead_letter_of(attributes: Mapping[str, str]) -> str | None:
    redrive = attributes.get("RedrivePolicy")
    return str(json.loads(redrive)["deadLetterTargetArn"]) if redrive else None


_TABLE_KEYS = (
    "KeySchema",
    "AttributeDefinitions",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "ProvisionedThroughput",
)


def _table_request(table: TableSpec) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": table.name}
    request.update({k: table.properties[k] for k in _TABLE_KEYS if k in table.properties})
    request["BillingMode"] = table.properties.get(
        "BillingMode", "PROVISIONED" if "ProvisionedThroughput" in request else "PAY_PER_REQUEST"
    )
    return request
