"""Ingest: a connection notification → the truth re-read → one event on the bus.

A `pendingAcceptance` connection becomes "Endpoint Connection Requested" (origin
`notification`); any other state becomes "Endpoint Connection State Changed". A connection
DescribeVpcEndpointConnections no longer shows becomes State Changed with `found: false` and
the state the notification named (`deleted` when it named none): eventual consistency can hide
a brand-new connection for a moment, and the sweep requests it once it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_lambda_powertools.utilities.parser.models import SnsRecordModel

from acceptor.aws.bus import Bus
from acceptor.aws.ec2 import ProviderEc2
from acceptor.contract import (
    BusEvent,
    RequestedDetail,
    StateChangedDetail,
    requested,
    state_changed,
)
from acceptor.decision.connection import PENDING, Connection
from acceptor.flows.telemetry import NOTIFICATIONS, UNPARSEABLE, count, logger, tracer
from acceptor.notification import (
    EVENT_OF_STATE,
    ConnectionNotification,
    UnparseableNotification,
    parse_notification,
)

GONE = "deleted"


@dataclass(frozen=True)
class Ingested:
    message_id: str
    event: BusEvent


@tracer.capture_method
def ingest(records: Sequence[SnsRecordModel], ec2: ProviderEc2, bus: Bus) -> list[Ingested]:
    """Put one event per understood record; then raise if any record was not understood."""
    ingested: list[Ingested] = []
    unparseable: list[UnparseableNotification] = []
    count(NOTIFICATIONS, len(records))
    for record in records:
        sns = record.Sns
        message = sns.Message if isinstance(sns.Message, str) else str(sns.Message)
        try:
            notification = parse_notification(message, sns.Subject)
        except UnparseableNotification as err:
            logger.error(
                f"unparseable connection notification: {err}",
                extra={"message_id": sns.MessageId, "topic_arn": sns.TopicArn, "body": message},
            )
            count(UNPARSEABLE)
            unparseable.append(err)
            continue
        found = ec2.connections(notification.service_id, [notification.endpoint_id])
        connection = found.get(notification.endpoint_id)
        event = to_event(notification, connection, sns.MessageId)
        logger.info(
            event.detail_type.value,
            extra={
                "service_id": getattr(event.detail, "service_id", None),
                "endpoint_id": notification.endpoint_id,
                "account": getattr(event.detail, "account", None),
                "correlation_id": sns.MessageId,
                "event_type": notification.event_type,
            },
        )
        ingested.append(Ingested(sns.MessageId, event))
    bus.put([item.event for item in ingested])
    if unparseable:
        raise unparseable[0]
    return ingested


def to_event(
    notification: ConnectionNotification, connection: Connection | None, correlation_id: str
) -> BusEvent:
    if connection is not None and connection.state == PENDING:
        return requested(
            RequestedDetail(
                service_id=connection.service_id,
                endpoint_id=connection.endpoint_id,
                account=connection.account,
                region=connection.region,
                state=connection.state,
                created_at=connection.created_at,
                origin="notification",
                correlation_id=correlation_id,
            )
        )
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
    state = notification.state or GONE
    return state_changed(
        StateChangedDetail(
            service_id=notification.service_id,
            endpoint_id=notification.endpoint_id,
            account=notification.account,
            region=None,
            state=state,
            event_type=notification.event_type or EVENT_OF_STATE.get(state),
            found=False,
            correlation_id=correlation_id,
        )
    )
