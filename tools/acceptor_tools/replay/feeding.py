"""Event files put where AWS would have received them (docs/replay.md, "Event files").

A Lambda input names its source only by its shape: an SNS event came from a topic, an SQS event
from a queue, a scheduled event from a schedule rule, any other EventBridge event from a bus.
Each is handed to the template's resource of that kind, so that it travels the template's
wiring from there, as in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from acceptor_tools.replay.deploy import Clients, Deployment


class InjectError(ValueError):
    """An event file the replay cannot place in the application."""


# Invokes a function synchronously with a payload, as its function URL does; returns a summary.
UrlInvoker = Callable[[str, Any], str]


class Feeder:
    def __init__(
        self, deployment: Deployment, aws: Clients, invoke_url: UrlInvoker | None = None
    ) -> None:
        self.deployment = deployment
        self._invoke_url = invoke_url
        self.app = deployment.app
        self.sqs = aws.client("sqs")
        self.sns = aws.client("sns")
        self.events = aws.client("events")

    def inject(self, payload: Any, *, source: str) -> str:
        """Put one Lambda input where AWS would receive it; returns what was done."""
        items = payload if isinstance(payload, list) else [payload]
        done = []
        for item in items:
            for matches, place in _INJECTORS:
                if matches(item):
                    done.append(place(self, item))
                    break
            else:
                raise InjectError(
                    f"{source}: not an SNS, SQS, scheduled, EventBridge or function URL event, "
                    "nor an SNS notification; the replay does not know where AWS would deliver it"
                )
        return "; ".join(done)

    def _inject_sns_event(self, event: Mapping[str, Any]) -> str:
        topics = []
        for record in event["Records"]:
            sns = record["Sns"]
            topic = self._topic_for(str(sns.get("TopicArn", "")))
            self._publish(topic, sns)
            topics.append(topic)
        return f"published {len(topics)} SNS message(s) to {', '.join(sorted(set(topics)))}"

    def _inject_sns_notification(self, notification: Mapping[str, Any]) -> str:
        topic = self._topic_for(str(notification.get("TopicArn", "")))
        self._publish(topic, notification)
        return f"published an SNS message to {topic}"

    def _topic_for(self, arn: str) -> str:
        """The app's topic a captured message belongs to: same ARN, same name, or the only
        topic a function subscribes to (a captured message carries the real account's ARN)."""
        name = arn.rsplit(":", 1)[-1]
        for topic in self.app.topics.values():
            if arn == topic.arn or name in (topic.name, topic.logical_id):
                return topic.arn
        subscribed = sorted({topic for topic, _ in self.deployment.subscriptions})
        if len(subscribed) == 1:
            return subscribed[0]
        raise InjectError(f"no topic of the template for {arn!r}; topics: {subscribed}")

    def _publish(self, topic_arn: str, sns: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"TopicArn": topic_arn, "Message": sns["Message"]}
        if sns.get("Subject"):
            request["Subject"] = sns["Subject"]
        attributes = sns_attributes(sns.get("MessageAttributes") or {})
        if attributes:
            request["MessageAttributes"] = attributes
        self.sns.publish(**request)

    def _inject_sqs_event(self, event: Mapping[str, Any]) -> str:
        sent = 0
        for record in event["Records"]:
            url = self._queue_for(str(record.get("eventSourceARN", "")))
            request: dict[str, Any] = {"QueueUrl": url, "MessageBody": record["body"]}
            attributes = sqs_attributes(record.get("messageAttributes") or {})
            if attributes:
                request["MessageAttributes"] = attributes
            self.sqs.send_message(**request)
            sent += 1
        return f"sent {sent} SQS message(s)"

    def _queue_for(self, arn: str) -> str:
        name = arn.rsplit(":", 1)[-1]
        for queue in self.app.queues.values():
            if arn == queue.arn or name in (queue.name, queue.logical_id):
                return self.deployment.queue_urls[queue.arn]
        polled = sorted({source.queue_arn for source in self.app.event_sources})
        if len(polled) == 1:
            return self.deployment.queue_urls[polled[0]]
        raise InjectError(f"no queue of the template for {arn!r}; polled queues: {polled}")

    def _inject_scheduled_event(self, event: Mapping[str, Any]) -> str:
        rules = [r for r in self.app.rules if r.schedule is not None and r.enabled]
        # AWS names a rule the template leaves unnamed STACK-LogicalId-SUFFIX, so an ARN from a
        # real event names it by its logical ID; the local name matches too.
        named = [
            r
            for r in rules
            if any(
                r.name in str(arn) or f"-{r.logical_id}-" in str(arn)
                for arn in event.get("resources", [])
            )
        ]
        chosen = named or rules
        if len(chosen) != 1:
            raise InjectError(
                f"a scheduled event needs one schedule rule; candidates: "
                f"{[r.logical_id for r in chosen]} (name one in `resources`)"
            )
        rule = chosen[0]
        body = json.dumps(event)
        for target in rule.targets:
            function = self.app.function_for(target.arn)
            if function is not None:
                stand_in = self.deployment.stand_in_for("async", function.logical_id)
                url = stand_in.url if stand_in else None
            else:
                url = self.deployment.queue_urls.get(target.arn)
            if url is None:
                raise InjectError(f"{rule.logical_id}: target {target.arn} cannot be reached")
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
        return f"scheduled event delivered by {rule.logical_id}"

    def _inject_bus_event(self, event: Mapping[str, Any]) -> str:
        bus = self._bus_for(str(event["source"]))
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "EventBusName": bus,
            "Resources": list(event.get("resources") or []),
        }
        result = self.events.put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            raise InjectError(f"the bus refused the event: {result['Entries']}")
        return f"put {event['detail-type']!r} on bus {bus}"

    def _inject_function_url_event(self, event: Mapping[str, Any]) -> str:
        """A request to a function URL goes to the function that owns a URL of its kind: an
        IAM-signed request (`requestContext.authorizer.iam`) to the `AWS_IAM` URL, any other
        to the `NONE` URL. (The URL's host is random per deploy: it cannot name the function.)"""
        context = event.get("requestContext") or {}
        signed = bool((context.get("authorizer") or {}).get("iam"))
        auth = "AWS_IAM" if signed else "NONE"
        owners = sorted(lid for lid, kind in self.app.function_urls.items() if kind == auth)
        if len(owners) != 1:
            raise InjectError(
                f"a function URL event ({auth}) needs one function with such a URL; "
                f"the template has {owners}"
            )
        if self._invoke_url is None:
            raise InjectError("this replay cannot invoke functions synchronously")
        return self._invoke_url(owners[0], event)

    def _bus_for(self, source: str) -> str:
        if source.startswith("aws."):
            return "default"  # AWS services put their events on the default bus
        custom = sorted(b.name for b in self.app.buses.values())
        if len(custom) != 1:
            raise InjectError(f"which bus for source {source!r}? the template has {custom}")
        return custom[0]


def sns_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in attributes.items():
        kind = str(value.get("Type", "String"))
        key = "BinaryValue" if kind == "Binary" else "StringValue"
        converted[name] = {"DataType": kind, key: value.get("Value")}
    return converted


def sqs_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in attributes.items():
        kind = str(value.get("dataType", "String"))
        key = "BinaryValue" if kind.startswith("Binary") else "StringValue"
        converted[name] = {
            "DataType": kind,
            key: value.get("binaryValue" if key == "BinaryValue" else "stringValue"),
        }
    return converted


def _records_from(source: str) -> Callable[[Any], bool]:
    def matches(item: Any) -> bool:
        records = item.get("Records") if isinstance(item, dict) else None
        if not isinstance(records, list) or not records:
            return False
        first = records[0]
        return isinstance(first, dict) and source in (
            first.get("EventSource"),
            first.get("eventSource"),
        )

    return matches


def _is_scheduled(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("source") == "aws.events"
        and item.get("detail-type") == "Scheduled Event"
    )


def _is_bus_event(item: Any) -> bool:
    return isinstance(item, dict) and {"source", "detail-type", "detail"} <= set(item)


def _is_function_url_event(item: Any) -> bool:
    """Payload format 2.0, as a Lambda function URL passes a request."""
    return (
        isinstance(item, dict)
        and item.get("version") == "2.0"
        and isinstance(item.get("requestContext"), dict)
        and "http" in item["requestContext"]
    )


def _is_sns_notification(item: Any) -> bool:
    return isinstance(item, dict) and item.get("Type") == "Notification" and "Message" in item


# Shape of an event file -> where AWS would have received it. First match wins.
_INJECTORS: tuple[tuple[Callable[[Any], bool], Callable[[Feeder, Any], str]], ...] = (
    (_records_from("aws:sns"), Feeder._inject_sns_event),
    (_records_from("aws:sqs"), Feeder._inject_sqs_event),
    (_is_sns_notification, Feeder._inject_sns_notification),
    (_is_scheduled, Feeder._inject_scheduled_event),
    (_is_function_url_event, Feeder._inject_function_url_event),
    (_is_bus_event, Feeder._inject_bus_event),
)
