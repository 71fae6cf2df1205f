"""Ingest: a connection notification → the truth re-read → one event on the bus.

A `pendingAcceptance` connection becomes "Endpoint Connection Requested" (origin
`notification`); any other state becomes "Endpoint Connection State Changed". The message is
only a hint (docs/events.md, "Connection notifications we accept"):

- The connection is re-read with the message's service ID first; when that finds nothing, with
  every managed service (a wrong or missing service ID in the message loses nothing).
- A connection no re-read shows is gone: State Changed, `found: false`, state `deleted`; except
  after a `Connect`, when a brand-new connection may not show yet: then nothing is put (it is
  logged and counted), and the sweep requests it once it shows.
- Each SNS record is handled on its own. Records that cannot be read (a record that is not SNS,
  a message beyond the parser's bounds, one that names no endpoint) are logged with their body
  (truncated) and counted; the good records beside them still go out; then the invocation
  raises `UnparseableNotification` naming the bad ones, so Lambda's retries and the dead-letter
  queue get the event. SNS-triggered functions have no partial-batch response, so a retry
  re-publishes the good records too: harmless, they are hints and Decide is idempotent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.utilities.parser.models import SnsRecordModel
from pydantic import ValidationError

from acceptor.aws.bus import Bus
from acceptor.aws.errors import AwsError
from acceptor.contract import (
    BusEvent,
    RequestedDetail,
    StateChangedDetail,
    requested,
    state_changed,
)
from acceptor.decision.connection import PENDING, Connection
from acceptor.flows.telemetry import (
    EMPTY_NOTIFICATION_EVENTS,
    NOT_FOUND_NOTIFICATIONS,
    NOTIFICATIONS,
    UNPARSEABLE,
    count,
    logger,
)
from acceptor.notification import (
    EVENT_OF_STATE,
    ConnectionNotification,
    UnparseableNotification,
    parse_notification,
)

GONE = "deleted"
CONNECT = "Connect"
LOGGED_BODY_CHARS = 4096  # of an unreadable message, in its error log line


class ConnectionReader(Protocol):
    """What Ingest needs of `acceptor.aws.ec2.ProviderEc2`."""

    def find(
        self, endpoint_ids: Sequence[str], service_ids: Collection[str] | None
    ) -> dict[str, Connection]: ...


@dataclass(frozen=True)
class IngestDeps:
    ec2: ConnectionReader
    bus: Bus
    # The services the acceptor manages; empty: every service of the account (the sweep's rule).
    managed: Collection[str]


@dataclass(frozen=True)
class Ingested:
    message_id: str
    event: BusEvent


@dataclass(frozen=True)
class Unreadable:
    """A record Ingest could not use, and why."""

    where: str  # the SNS message ID, or `Records[i]` when the record has none
    reason: str


def ingest_event(event: Any, deps: IngestDeps) -> list[Ingested]:
    """The whole Lambda event: every readable record goes out, then the unreadable raise."""
    records, unreadable = read_records(event)
    count(NOTIFICATIONS, len(records) + len(unreadable))
    if not records and not unreadable:
        logger.warning("an SNS event without records: nothing to do")
        count(EMPTY_NOTIFICATION_EVENTS)
        return []
    ingested: list[Ingested] = []
    failed: list[AwsError] = []
    for record in records:
        try:
            item = ingest_record(record, deps)
        except UnparseableNotification as err:
            unreadable.append(Unreadable(record.Sns.MessageId, str(err)))
            _log_unreadable(str(err), record.Sns.MessageId, record.Sns.Message, record.Sns.TopicArn)
            continue
        except AwsError as err:
            # The re-read failed (throttling, an outage, a denial): the others still go out.
            logger.error(
                f"re-reading the connection failed: {err}",
                extra={"message_id": record.Sns.MessageId, "code": err.code},
            )
            failed.append(err)
            continue
        if item is not None:
            ingested.append(item)
    deps.bus.put([item.event for item in ingested])
    if failed:
        raise failed[0]
    if unreadable:
        listed = "; ".join(f"{u.where}: {u.reason}" for u in unreadable)
        raise UnparseableNotification(f"{len(unreadable)} unparseable record(s): {listed}")
    return ingested


def read_records(event: Any) -> tuple[list[SnsRecordModel], list[Unreadable]]:
    """The event's SNS records, each validated on its own; the others, logged and counted.
    An event that is not `{"Records": [...]}` at all is unparseable as a whole."""
    raw = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(raw, list):
        _log_unreadable("the event is not an SNS event (no Records list)", None, event, None)
        raise UnparseableNotification("the event is not an SNS event (no Records list)")
    records: list[SnsRecordModel] = []
    unreadable: list[Unreadable] = []
    for index, item in enumerate(raw):
        where = _message_id(item) or f"Records[{index}]"
        reason = _record_problem(item)
        if reason is None:
            try:
                records.append(SnsRecordModel.model_validate(item))
                continue
            except ValidationError as err:
                reason = f"not an SNS record ({err.error_count()} problem(s))"
        unreadable.append(Unreadable(where, reason))
        _log_unreadable(reason, where, item, None)
    return records, unreadable


def _record_problem(item: Any) -> str | None:
    """What rules a record out before pydantic sees it: Powertools' SNS model runs a "before"
    validator that iterates `Sns` and raises TypeError (not a ValidationError) on `null`."""
    if not isinstance(item, Mapping):
        return f"a record is an object, not {type(item).__name__}"
    if not isinstance(item.get("Sns"), Mapping):
        return f"the record's Sns is an object, not {type(item.get('Sns')).__name__}"
    return None


def ingest_record(record: SnsRecordModel, deps: IngestDeps) -> Ingested | None:
    """One record: parse, re-read, and the event to put (None: nothing to put yet)."""
    sns = record.Sns
    message = sns.Message if isinstance(sns.Message, str) else str(sns.Message)
    notification = parse_notification(message, sns.Subject)
    connection = reread(notification, deps.ec2, deps.managed)
    context = {
        "endpoint_id": notification.endpoint_id,
        "correlation_id": sns.MessageId,
        "event_type": notification.event_type,
        "message_service_id": notification.service_id,
    }
    if connection is None and claims_new(notification):
        logger.warning(
            "a Connect for a connection no re-read shows yet: the sweep requests it once it shows",
            extra=context,
        )
        count(NOT_FOUND_NOTIFICATIONS)
        return None
    event = to_event(notification, connection, sns.MessageId)
    logger.info(
        event.detail_type.value,
        extra={
            **context,
            "service_id": getattr(event.detail, "service_id", None),
            "account": getattr(event.detail, "account", None),
        },
    )
    return Ingested(sns.MessageId, event)


def reread(
    notification: ConnectionNotification, ec2: ConnectionReader, managed: Collection[str]
) -> Connection | None:
    """The connection as AWS shows it now: with the message's service first, then with every
    managed service (or every service of the account when none is listed)."""
    endpoint_id = notification.endpoint_id
    if notification.service_id is not None:
        found = ec2.find([endpoint_id], [notification.service_id]).get(endpoint_id)
        if found is not None:
            return found
    others = sorted(set(managed) - {notification.service_id}) if managed else None
    if others == []:
        return None
    connection = ec2.find([endpoint_id], others).get(endpoint_id)
    if connection is not None and notification.service_id is not None:
        logger.warning(
            "the notification named another service than the connection's",
            extra={
                "endpoint_id": endpoint_id,
                "message_service_id": notification.service_id,
                "service_id": connection.service_id,
            },
        )
    return connection


def claims_new(notification: ConnectionNotification) -> bool:
    return notification.event_type == CONNECT or (
        notification.event_type is None and notification.state == "pendingAcceptance"
    )


def to_event(
    notification: ConnectionNotification, connection: Connection | None, correlation_id: str
) -> BusEvent:
    if connection is not None and connection.state == PENDING:
        return requested(RequestedDetail.of(connection, "notification", correlation_id))
    if connection is not None:
        return state_changed(
            StateChangedDetail(
                service_id=connection.service_id,
                endpoint_id=connection.endpoint_id,
                account=connection.account,
                region=connection.region,
                state=connection.state,
                event_type=notification.event_type or EVENT_OF_STATE.get(connection.state),
                found=True,
                correlation_id=correlation_id,
            )
        )
    # No re-read shows it, with the message's service nor any managed one: it is gone.
    return state_changed(
        StateChangedDetail(
            service_id=notification.service_id,
            endpoint_id=notification.endpoint_id,
            account=notification.account,
            region=None,
            state=GONE,
            event_type=notification.event_type or EVENT_OF_STATE[GONE],
            found=False,
            correlation_id=correlation_id,
        )
    )


def _message_id(item: Any) -> str | None:
    sns = item.get("Sns") if isinstance(item, Mapping) else None
    found = sns.get("MessageId") if isinstance(sns, Mapping) else None
    return found if isinstance(found, str) and len(found) <= 100 else None


def _log_unreadable(reason: str, message_id: str | None, body: Any, topic_arn: str | None) -> None:
    text = body if isinstance(body, str) else _shown(body)
    logger.error(
        f"unparseable connection notification: {reason}",
        extra={
            "message_id": message_id,
            "topic_arn": topic_arn,
            "body": text[:LOGGED_BODY_CHARS],
            "body_chars": len(text),
        },
    )
    count(UNPARSEABLE)


def _shown(value: Any) -> str:
    """A printable form of anything Lambda may hand over (repr stops very deep nesting with
    `RecursionError`, caught here)."""
    try:
        return repr(value)
    except (RecursionError, ValueError):
        return f"<{type(value).__name__} that cannot be shown>"
