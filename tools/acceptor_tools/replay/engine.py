"""Run the deployed application until it is quiet.

The engine plays the part of the AWS services between the template's resources: Lambda's SQS
poller (batches of the event source mapping's size, partial batch failures, redelivery until
the queue's redrive policy moves a message to its dead-letter queue) and Lambda's asynchronous
invocation (retries, then the on-failure destination or the dead-letter queue). Everything
else is the local AWS's own behaviour: the bus matches the template's patterns, SNS delivers
to its subscriptions. Time is compressed: a message that failed is visible again at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from acceptor_tools.replay import lambda_events
from acceptor_tools.replay.app import EventSourceSpec, FunctionSpec
from acceptor_tools.replay.deploy import Clients, Deployment, StandIn
from acceptor_tools.replay.feeding import Feeder
from acceptor_tools.replay.runtime import ExecutionEnvironment, Invocation

Progress = Callable[[str], None]
_EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region")
MAX_SQS_BATCH = 10  # what one ReceiveMessage returns at most


@dataclass
class BusEvent:
    """An event seen on a bus, and where the template's rules delivered it."""

    id: str
    bus: str
    event: dict[str, Any]
    delivered_to: list[str] = field(default_factory=list)

    @property
    def detail_type(self) -> str:
        return str(self.event.get("detail-type", ""))


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    body: str
    function: str | None
    error: str | None
    attempts: int | None


@dataclass(frozen=True)
class OutboxMessage:
    """A message published to a topic that only people read (no function subscribes)."""

    topic_arn: str
    subject: str | None
    message: str


@dataclass
class ReplayLog:
    invocations: list[Invocation] = field(default_factory=list)
    bus_events: dict[str, BusEvent] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    rounds: int = 0
    quiet: bool = False
    seconds: float = 0.0

    @property
    def unrouted(self) -> list[BusEvent]:
        return [e for e in self.bus_events.values() if not e.delivered_to]


@dataclass(frozen=True)
class _Failure:
    function: str
    error: str
    attempts: int


class Replay:
    def __init__(
        self,
        deployment: Deployment,
        aws: Clients,
        environments: Mapping[str, ExecutionEnvironment],
        *,
        progress: Progress | None = None,
    ) -> None:
        self.deployment = deployment
        self.app = deployment.app
        self.environments = environments
        self.sqs = aws.client("sqs")
        self.sns = aws.client("sns")
        self.events = aws.client("events")
        self._feeder = Feeder(deployment, aws, self._invoke_url)
        self.log = ReplayLog()
        self._progress = progress or (lambda _: None)
        self._failures: dict[str, _Failure] = {}  # SQS message ID -> last failure
        # Only a call of a function or an injection can put events on a bus: the taps are
        # read after those, not before every poll (each call to the local AWS costs).
        self._bus_may_have_events = True

    def inject(self, payload: Any, *, source: str) -> str:
        """Put one Lambda input where AWS would receive it; returns what was done."""
        self._bus_may_have_events = True
        return self._feeder.inject(payload, source=source)

    def invoke_url(self, logical_id: str, event: Any) -> Invocation:
        """A function URL invokes its function synchronously: no retries, no destinations;
        the caller gets the answer (Lambda answers 502 when the function fails)."""
        invocation = self._invoke(self.app.functions[logical_id], event, "function URL")
        self._bus_may_have_events = True
        return invocation

    def _invoke_url(self, logical_id: str, event: Any) -> str:
        invocation = self.invoke_url(logical_id, event)
        result = invocation.response if invocation.ok else None
        status = result.get("statusCode") if isinstance(result, dict) else 502
        return f"{logical_id} answered HTTP {status} through its function URL"

    # --- running ----------------------------------------------------------------------------

    def run(self, *, max_rounds: int = 200, max_seconds: float = 60.0) -> ReplayLog:
        """Deliver and invoke until nothing is left to do, within the bounds."""
        started = time.monotonic()
        for _ in range(max_rounds):
            self.log.rounds += 1
            work = self._round()
            if work == 0:
                if self._drained():
                    self.log.quiet = True
                    break
                time.sleep(0.05)  # delayed messages: give them their moment, bounded below
            if time.monotonic() - started > max_seconds:
                break
        self.log.seconds += time.monotonic() - started
        self._collect_dead_letters()
        return self.log

    def _round(self) -> int:
        work = 0
        stand_ins = sorted(self.deployment.stand_ins.values(), key=lambda s: _ORDER[s.kind])
        for stand_in in stand_ins:
            work += self._drain_taps()
            work += _POLLERS[stand_in.kind](self, stand_in)
        for source in self.app.event_sources:
            if source.enabled:
                # Taps first: a delivered event is recognised by the ID its tap recorded.
                work += self._drain_taps()
                work += self._poll_event_source(source)
        return work

    def _drain_taps(self) -> int:
        if not self._bus_may_have_events:
            return 0
        self._bus_may_have_events = False
        taps = [s for s in self.deployment.stand_ins.values() if s.kind == "tap"]
        return sum(self._poll_tap(tap) for tap in taps)

    def _polled_urls(self) -> Iterable[str]:
        yield from self.deployment.stand_ins
        for source in self.app.event_sources:
            if source.enabled:
                yield self.deployment.queue_urls[source.queue_arn]

    def _drained(self) -> bool:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        for url in self._polled_urls():
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
            if any(int(attributes["Attributes"].get(n, 0)) for n in names):
                return False
        return True

    def _receive(self, url: str, limit: int, hold_seconds: int = 900) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < limit:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(MAX_SQS_BATCH, limit - len(messages)),
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        return messages

    def _poll_tap(self, stand_in: StandIn) -> int:
        messages = self._receive(stand_in.url, limit=1000)
        for message in messages:
            event = json.loads(message["Body"])
            event.setdefault("account", self.app.account)
            ordered = {k: event[k] for k in _EVENT_FIELDS if k in event}
            ordered.update(event)
            self.log.bus_events[event["id"]] = BusEvent(
                id=event["id"], bus=stand_in.key, event=ordered
            )
            self.sqs.delete_message(QueueUrl=stand_in.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _poll_outbox(self, stand_in: StandIn) -> int:
        messages = self._receive(stand_in.url, limit=1000)
        for message in messages:
            envelope = json.loads(message["Body"])
            self.log.outbox.append(
                OutboxMessage(
                    topic_arn=stand_in.key,
                    subject=envelope.get("Subject"),
                    message=str(envelope.get("Message", "")),
                )
            )
            self.sqs.delete_message(QueueUrl=stand_in.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _poll_sns_forward(self, stand_in: StandIn) -> int:
        messages = self._receive(stand_in.url, limit=1000)
        for message in messages:
            body = self._delivered(message["Body"], f"topic {stand_in.key}")
            self.sns.publish(TopicArn=stand_in.key, Message=body)
            self.sqs.delete_message(QueueUrl=stand_in.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _poll_async(self, stand_in: StandIn) -> int:
        """Lambda's queue of asynchronous invocations: one event per call, retried on error."""
        function = self.app.functions[stand_in.key]
        messages = self._receive(stand_in.url, limit=MAX_SQS_BATCH)
        for message in messages:
            # Lambda has taken the event: from here on, only retries and destinations keep it.
            self.sqs.delete_message(QueueUrl=stand_in.url, ReceiptHandle=message["ReceiptHandle"])
            payload, trigger = self._async_payload(function, message["Body"])
            attempts = 1 + function.max_retry_attempts
            for attempt in range(1, attempts + 1):
                invocation = self._invoke(function, payload, f"{trigger}, attempt {attempt}")
                if invocation.ok:
                    break
            else:
                self._give_up(function, payload, invocation, attempts)
        return len(messages)

    def _async_payload(self, function: FunctionSpec, body: str) -> tuple[Any, str]:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and envelope.get("Type") == "Notification":
            topic = str(envelope["TopicArn"])
            subscription = self.deployment.subscriptions.get((topic, function.logical_id), "")
            spec = self.app.topic_for(topic)
            name = spec.logical_id if spec else topic.rsplit(":", 1)[-1]
            return lambda_events.sns_event(envelope, subscription), f"SNS {name}"
        payload = json.loads(self._delivered(body, function.logical_id))
        return payload, f"EventBridge {payload.get('detail-type', 'event')!r}"

    def _give_up(
        self, function: FunctionSpec, payload: Any, invocation: Invocation, attempts: int
    ) -> None:
        error = str(invocation.error or "timed out")
        destinations = [d for d in (function.dead_letter, function.on_failure) if d]
        for destination in destinations:
            body = (
                payload
                if destination == function.dead_letter
                else lambda_events.invocation_record(function, payload, invocation, attempts)
            )
            self._send_to(destination, json.dumps(body), function.logical_id, error, attempts)
        if not destinations:
            self.log.dead_letters.append(
                DeadLetter(
                    "(discarded: no destination)",
                    json.dumps(payload),
                    function.logical_id,
                    error,
                    attempts,
                )
            )
        self._progress(f"{function.logical_id}: gave up after {attempts} attempts: {error}")

    def _send_to(self, arn: str, body: str, function: str, error: str, attempts: int) -> None:
        if ":sns:" in arn:
            self.sns.publish(TopicArn=arn, Message=body)
            self.log.dead_letters.append(DeadLetter(arn, body, function, error, attempts))
            return
        sent = self.sqs.send_message(QueueUrl=self.deployment.queue_urls[arn], MessageBody=body)
        self._failures[sent["MessageId"]] = _Failure(function, error, attempts)

    def _poll_event_source(self, source: EventSourceSpec) -> int:
        function = self.app.functions[source.function]
        url = self.deployment.queue_urls[source.queue_arn]
        # With a batching window Lambda waits to fill the batch; in replay time that is
        # "everything already there", up to BatchSize. Without one, one poll's worth.
        limit = source.batch_size if source.batching_window > 0 else MAX_SQS_BATCH
        messages = self._receive(url, limit=min(limit, source.batch_size))
        if not messages:
            return 0
        records = [self._sqs_record(m, source.queue_arn, function.logical_id) for m in messages]
        kept = [r for r in records if lambda_events.passes(source.filters, r)]
        for record in records:
            if record not in kept:  # filtered out: Lambda deletes it without a call
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        if not kept:
            return len(messages)
        queue = self.app.queue_for(source.queue_arn)
        name = queue.logical_id if queue else source.queue_arn.rsplit(":", 1)[-1]
        invocation = self._invoke(function, {"Records": kept}, f"SQS {name}, {len(kept)} msg")
        failed = lambda_events.failed_items(invocation, kept, source.report_failures)
        for record in kept:
            if record["messageId"] in failed:
                self._failures[record["messageId"]] = _Failure(
                    function.logical_id,
                    lambda_events.item_error(invocation),
                    int(record["attributes"]["ApproximateReceiveCount"]),
                )
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        return len(messages)

    def _sqs_record(self, message: Mapping[str, Any], arn: str, function: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": self._delivered(message["Body"], function),
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": self.app.region,
        }

    def _delivered(self, body: str, destination: str) -> str:
        """The body as AWS delivers it; for an event from a bus, note where it went.

        moto 5.2.5 leaves `account` out of the events it delivers to queues (its default
        input template lacks it) while AWS always sends it: it is put back from the bus.
        """
        try:
            event = json.loads(body)
        except json.JSONDecodeError:
            return body
        seen = self.log.bus_events.get(event.get("id", "")) if isinstance(event, dict) else None
        if seen is None or not isinstance(event, dict):
            return body
        if destination not in seen.delivered_to:
            seen.delivered_to.append(destination)
        if "account" in event:
            return body
        event["account"] = seen.event["account"]
        ordered = {k: event[k] for k in _EVENT_FIELDS if k in event}
        ordered.update(event)
        return json.dumps(ordered)

    def _invoke(self, function: FunctionSpec, payload: Any, trigger: str) -> Invocation:
        invocation = self.environments[function.logical_id].invoke(payload, trigger=trigger)
        self._bus_may_have_events = True
        self.log.invocations.append(invocation)
        outcome = "ok" if invocation.ok else f"FAILED {invocation.error or 'timed out'}"
        self._progress(f"{function.logical_id} <- {trigger}: {outcome}")
        return invocation

    def _collect_dead_letters(self) -> None:
        dead_letter_arns = {
            json.loads(q.attributes["RedrivePolicy"])["deadLetterTargetArn"]
            for q in self.app.queues.values()
            if "RedrivePolicy" in q.attributes
        }
        for function in self.app.functions.values():
            dead_letter_arns.update(d for d in (function.dead_letter, function.on_failure) if d)
        for arn in sorted(a for a in dead_letter_arns if ":sqs:" in a):
            url = self.deployment.queue_urls[arn]
            for message in self._receive(url, limit=10_000):
                failure = self._failures.get(message["MessageId"])
                queue = self.app.queue_for(arn)
                self.log.dead_letters.append(
                    DeadLetter(
                        queue=queue.logical_id if queue else arn.rsplit(":", 1)[-1],
                        body=message["Body"],
                        function=failure.function if failure else None,
                        error=failure.error if failure else None,
                        attempts=failure.attempts if failure else None,
                    )
                )


_ORDER = {"tap": 0, "outbox": 1, "sns-forward": 2, "async": 3}
_POLLERS: dict[str, Callable[[Replay, StandIn], int]] = {
    "tap": lambda replay, stand_in: 0,  # drained before every other queue
    "outbox": Replay._poll_outbox,
    "sns-forward": Replay._poll_sns_forward,
    "async": Replay._poll_async,
}
