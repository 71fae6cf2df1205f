"""Connection notifications: the SNS messages AWS sends on Connect, Accept, Reject and Delete.

A notification is created for a service (by its provider) or for an endpoint (by its consumer)
and names an SNS topic and the events it wants. AWS does not document the body of the message,
so the body comes from a *shape*: a function of the event. `"default"` is our best guess; the
other named shapes are plausible variants the acceptor must also survive (it treats the message
only as a trigger and re-reads the connection), and any callable can be used instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.connections import Connection

EVENTS = ("Accept", "Connect", "Delete", "Reject")
NOTIFICATIONS_ATTR = "privatelink_notifications"  # on an EC2 backend: notification ID -> record
MIN_RESULTS = 5
TOPIC_ARN = re.compile(r"arn:aws:sns:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}")
MAX_RESULTS = 1000


@dataclass
class ConnectionNotification:
    """One `ConnectionNotification` of the botocore model, for a service or for an endpoint."""

    notification_id: str
    topic_arn: str
    events: list[str]
    service_id: str | None = None
    endpoint_id: str | None = None
    state: str = "Enabled"
    client_token: str | None = None

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "ConnectionNotificationId": self.notification_id,
            "ConnectionNotificationType": "Topic",
            "ConnectionNotificationArn": self.topic_arn,
            "ConnectionEvents": list(self.events),
            "ConnectionNotificationState": self.state,
        }
        if self.service_id:
            shape["ServiceId"] = self.service_id
        if self.endpoint_id:
            shape["VpcEndpointId"] = self.endpoint_id
        return shape


@dataclass(frozen=True)
class NotificationEvent:
    """Everything a message shape may draw on."""

    event_type: str  # Connect | Accept | Reject | Delete
    service_id: str
    endpoint_id: str
    endpoint_state: str
    provider_account: str
    consumer_account: str
    service_region: str
    endpoint_region: str
    notification_id: str
    time: datetime


MessageShape = Callable[[NotificationEvent], str]


def _default(event: NotificationEvent) -> str:
    return json.dumps(
        {
            "awsAccountId": event.consumer_account,
            "endpointServiceId": event.service_id,
            "endpointId": event.endpoint_id,
            "endpointState": event.endpoint_state,
            "eventType": event.event_type,
        }
    )


def _pascal(event: NotificationEvent) -> str:
    return json.dumps(
        {
            "AwsAccountId": event.consumer_account,
            "ServiceId": event.service_id,
            "VpcEndpointId": event.endpoint_id,
            "VpcEndpointState": event.endpoint_state,
            "EventType": event.event_type,
        }
    )


def _eventbridge(event: NotificationEvent) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": event.notification_id,
            "detail-type": f"VPC Endpoint Connection {event.event_type}",
            "source": "aws.ec2",
            "account": event.provider_account,
            "time": event.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": event.service_region,
            "resources": [
                f"arn:aws:ec2:{event.service_region}:{event.provider_account}:"
                f"vpc-endpoint-service/{event.service_id}"
            ],
            "detail": {
                "vpcEndpointId": event.endpoint_id,
                "vpcEndpointOwner": event.consumer_account,
                "vpcEndpointRegion": event.endpoint_region,
                "state": event.endpoint_state,
            },
        }
    )


def _text(event: NotificationEvent) -> str:
    return (
        f"{event.event_type}: endpoint {event.endpoint_id} of account {event.consumer_account} "
        f"to service {event.service_id} is now {event.endpoint_state}."
    )


SHAPES: Mapping[str, MessageShape] = {
    "default": _default,
    "pascal": _pascal,
    "eventbridge": _eventbridge,
    "text": _text,
}


def shape_named(shape: str | MessageShape) -> MessageShape:
    if callable(shape):
        return shape
    if shape not in SHAPES:
        raise ValueError(f"unknown notification shape {shape!r}; known: {', '.join(SHAPES)}")
    return SHAPES[shape]


@dataclass(frozen=True)
class Delivery:
    """A message handed to SNS (or that could not be: `error` says why)."""

    topic_arn: str
    message: str
    event: NotificationEvent
    message_id: str | None
    error: str | None = None


@dataclass
class NotificationSettings:
    shape: MessageShape = _default
    deliveries: list[Delivery] = field(default_factory=list)

    def reset(self) -> None:
        self.shape = _default
        self.deliveries.clear()


def registry(backend: Any) -> dict[str, ConnectionNotification]:
    found: dict[str, ConnectionNotification] | None = getattr(backend, NOTIFICATIONS_ATTR, None)
    if found is None:
        found = {}
        setattr(backend, NOTIFICATIONS_ATTR, found)
    return found


def create(
    backend: Any,
    topic_arn: str,
    events: Sequence[str],
    service_id: str | None,
    endpoint_id: str | None,
    client_token: str | None,
) -> ConnectionNotification:
    """CreateVpcEndpointConnectionNotification, for a service or an endpoint of the caller."""
    notifications = registry(backend)
    if client_token:
        for existing in notifications.values():
            if existing.client_token == client_token:
                return existing
    if bool(service_id) == bool(endpoint_id):
        raise moto.service_error(
            "InvalidParameterCombination", "Specify either a ServiceId or a VpcEndpointId."
        )
    if service_id and service_id not in backend.configurations:
        raise moto.unknown_endpoint_service(service_id)
    if endpoint_id and endpoint_id not in backend.vpc_end_points:
        raise moto.unknown_endpoint(endpoint_id)
    _check_events(events)
    _check_topic(topic_arn)
    notification = ConnectionNotification(
        notification_id=f"vpce-nfn-{moto.random_hex(17)}",
        topic_arn=topic_arn,
        events=list(dict.fromkeys(events)),
        service_id=service_id,
        endpoint_id=endpoint_id,
        client_token=client_token,
    )
    notifications[notification.notification_id] = notification
    return notification


def modify(
    backend: Any, notification_id: str, topic_arn: str | None, events: Sequence[str]
) -> None:
    notification = _get(backend, notification_id)
    if topic_arn:
        _check_topic(topic_arn)
        notification.topic_arn = topic_arn
    if events:
        _check_events(events)
        notification.events = list(dict.fromkeys(events))


def delete(backend: Any, notification_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Deletes what exists; the rest come back as `UnsuccessfulItem`s."""
    notifications = registry(backend)
    unsuccessful: list[dict[str, Any]] = []
    for notification_id in notification_ids:
        if notifications.pop(notification_id, None) is None:
            unsuccessful.append(
                {
                    "ResourceId": notification_id,
                    "Error": {
                        "Code": "InvalidConnectionNotification",
                        "Message": f"The connection notification '{notification_id}' "
                        "does not exist",
                    },
                }
            )
    return unsuccessful


FILTERS: Mapping[str, Callable[[ConnectionNotification], str | None]] = {
    "connection-notification-arn": lambda n: n.topic_arn,
    "connection-notification-id": lambda n: n.notification_id,
    "connection-notification-state": lambda n: n.state,
    "connection-notification-type": lambda n: "Topic",
    "service-id": lambda n: n.service_id,
    "vpc-endpoint-id": lambda n: n.endpoint_id,
}


def describe(
    backend: Any,
    notification_id: str | None,
    filters: Mapping[str, Sequence[str]],
    max_results: int | None,
    next_token: str | None,
) -> tuple[list[ConnectionNotification], str | None]:
    for name in filters:
        if name not in FILTERS:
            raise moto.service_error("InvalidParameterValue", f"The filter '{name}' is invalid")
    if notification_id:
        _get(backend, notification_id)
    matching = [
        n
        for n in sorted(registry(backend).values(), key=lambda n: n.notification_id)
        if (not notification_id or n.notification_id == notification_id)
        and all(FILTERS[name](n) in values for name, values in filters.items())
    ]
    limit = min(max_results or MAX_RESULTS, MAX_RESULTS)
    if limit < MIN_RESULTS:
        raise moto.service_error(
            "InvalidParameterValue",
            f"Value ( {limit} ) for parameter maxResults is invalid. "
            f"Expecting a value greater than {MIN_RESULTS}.",
        )
    start = 0
    if next_token:
        ids = [n.notification_id for n in matching]
        if next_token not in ids:
            raise moto.invalid_next_token(next_token)
        start = ids.index(next_token)
    following = start + limit
    token = matching[following].notification_id if following < len(matching) else None
    return matching[start:following], token


def publish(
    connection: Connection, event_type: str, settings: NotificationSettings
) -> list[Delivery]:
    """Send `event_type` for `connection` to every enabled notification that asked for it: the
    service's (provider account) and the endpoint's (consumer account)."""
    provider_backend = moto.ec2_backend(connection.provider_account, connection.provider_region)
    consumer_backend = moto.ec2_backend(connection.consumer_account, connection.consumer_region)
    wanted = [
        n for n in registry(provider_backend).values() if n.service_id == connection.service_id
    ] + [n for n in registry(consumer_backend).values() if n.endpoint_id == connection.endpoint_id]
    deliveries: list[Delivery] = []
    for notification in wanted:
        if notification.state != "Enabled" or event_type not in notification.events:
            continue
        event = NotificationEvent(
            event_type=event_type,
            service_id=connection.service_id,
            endpoint_id=connection.endpoint_id,
            endpoint_state=connection.state,
            provider_account=connection.provider_account,
            consumer_account=connection.consumer_account,
            service_region=connection.provider_region,
            endpoint_region=connection.consumer_region,
            notification_id=notification.notification_id,
            time=datetime.now(UTC),
        )
        message = settings.shape(event)
        # AWS drops a message it cannot deliver (topic deleted since) without failing the action
        # that caused it; the delivery record keeps the failure visible to tests.
        if moto.sns_topic_exists(notification.topic_arn):
            delivery = Delivery(
                notification.topic_arn,
                message,
                event,
                moto.sns_publish(notification.topic_arn, message),
            )
        else:
            delivery = Delivery(notification.topic_arn, message, event, None, "topic not found")
        settings.deliveries.append(delivery)
        deliveries.append(delivery)
    return deliveries


def _get(backend: Any, notification_id: str) -> ConnectionNotification:
    notification = registry(backend).get(notification_id)
    if notification is None:
        raise moto.service_error(
            "InvalidConnectionNotification",
            f"The connection notification '{notification_id}' does not exist",
        )
    return notification


def _check_events(events: Sequence[str]) -> None:
    unknown = [event for event in events if event not in EVENTS]
    if not events or unknown:
        raise moto.service_error(
            "InvalidParameterValue",
            f"ConnectionEvents must be some of {', '.join(EVENTS)}; got {list(events)}",
        )


def _check_topic(topic_arn: str) -> None:
    if TOPIC_ARN.fullmatch(topic_arn) is None:
        raise moto.service_error(
            "InvalidParameterValue", f"'{topic_arn}' is not a valid SNS topic ARN"
        )
    if not moto.sns_topic_exists(topic_arn):
        raise moto.service_error(
            "InvalidParameterValue", f"The SNS topic '{topic_arn}' does not exist"
        )
