"""The managed services, and the connection notifications Reconcile keeps for them.

A service is managed when it is tagged `privatelink-acceptor:managed=true` in the stack's account
and region, and, where the optional `ManagedServiceIds` filter is set, also listed there
(docs/operations.md, "Managed services"). Each managed service has one connection notification
of the acceptor's: it points at the stack's topic and carries every connection event.

Pure: the services and notifications are given (read by `aws/managed_services.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

MANAGED_TAG = "privatelink-acceptor:managed"
MANAGED_VALUE = "true"
EVENTS: tuple[str, ...] = ("Connect", "Accept", "Reject", "Delete")


@dataclass(frozen=True)
class EndpointService:
    """One endpoint service of the account, as DescribeVpcEndpointServiceConfigurations shows it."""

    service_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    acceptance_required: bool = True

    @property
    def tagged(self) -> bool:
        return self.tags.get(MANAGED_TAG) == MANAGED_VALUE


@dataclass(frozen=True)
class ManagedScan:
    """The result of one scan: which services are managed, and why the others are not."""

    managed: frozenset[str]
    untagged: tuple[str, ...] = ()
    """Services of the account without the tag (left alone)."""
    filtered_out: tuple[str, ...] = ()
    """Tagged services that the ManagedServiceIds filter leaves out."""
    listed_untagged: tuple[str, ...] = ()
    """Services the filter names that are not tagged (not managed: IAM would refuse them)."""
    without_acceptance: tuple[str, ...] = ()
    """Managed services that accept every connection by themselves (nothing to decide)."""


def managed_scan(services: Iterable[EndpointService], only: Collection[str] = ()) -> ManagedScan:
    """The managed set: tagged services, narrowed to `only` when it names any."""
    services = list(services)
    tagged = {s.service_id for s in services if s.tagged}
    narrowed = tagged & set(only) if only else tagged
    return ManagedScan(
        managed=frozenset(narrowed),
        untagged=tuple(sorted(s.service_id for s in services if not s.tagged)),
        filtered_out=tuple(sorted(tagged - narrowed)),
        listed_untagged=tuple(sorted(set(only) - tagged)),
        without_acceptance=tuple(
            sorted(
                s.service_id
                for s in services
                if s.service_id in narrowed and not s.acceptance_required
            )
        ),
    )


@dataclass(frozen=True)
class Notification:
    """A connection notification of a service (DescribeVpcEndpointConnectionNotifications)."""

    notification_id: str
    service_id: str | None
    topic_arn: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Create:
    service_id: str


@dataclass(frozen=True)
class Repair:
    notification_id: str
    service_id: str


@dataclass(frozen=True)
class Remove:
    notification_id: str
    service_id: str


Change = Create | Repair | Remove


def is_own(notification: Notification, topic_arn: str, own_topic_prefix: str) -> bool:
    """The acceptor's own notification: it points at the stack's topic, or at an earlier topic of
    the same stack (CloudFormation names a topic `STACK-ConnectionNotificationTopic-SUFFIX`, so a
    replaced topic keeps the prefix). Connection notifications carry no tags; the topic is the
    only mark of ownership, so a notification to any other topic is someone else's."""
    arn = notification.topic_arn
    return arn == topic_arn or (bool(own_topic_prefix) and arn.startswith(own_topic_prefix))


def plan_notifications(
    managed: Collection[str],
    existing: Iterable[Notification],
    topic_arn: str,
    own_topic_prefix: str = "",
) -> list[Change]:
    """What makes every managed service have exactly one notification of ours, complete and to
    the stack's topic, and no unmanaged service keep one. Notifications of others are left
    alone. Already right: no change (the plan of a second run is empty)."""
    own: dict[str, list[Notification]] = {}
    for notification in existing:
        if notification.service_id and is_own(notification, topic_arn, own_topic_prefix):
            own.setdefault(notification.service_id, []).append(notification)
    changes: list[Change] = []
    for service_id in sorted(managed):
        mine = sorted(own.get(service_id, []), key=lambda n: _preference(n, topic_arn))
        if not mine:
            changes.append(Create(service_id))
            continue
        keep, *extra = mine
        if keep.topic_arn != topic_arn or set(keep.events) != set(EVENTS):
            changes.append(Repair(keep.notification_id, service_id))
        changes.extend(Remove(n.notification_id, service_id) for n in extra)
    for service_id in sorted(set(own) - set(managed)):
        changes.extend(Remove(n.notification_id, service_id) for n in own[service_id])
    return changes


def _preference(notification: Notification, topic_arn: str) -> tuple[bool, bool, str]:
    # The one to keep: to the stack's topic first, then complete, then the lowest ID.
    return (
        notification.topic_arn != topic_arn,
        set(notification.events) != set(EVENTS),
        notification.notification_id,
    )
