"""Reconcile: the managed services' notifications, and the periodic sweep that feeds every
pending connection through Decide again.

Each run scans the managed services (tagged `privatelink-acceptor:managed=true`, narrowed by
MANAGED_SERVICE_IDS when it names any; `flows/managed.py`), keeps one connection notification of
the acceptor's per managed service, counts the policy's warnings about the managed set, then
sweeps. For each managed service it lists the `pendingAcceptance` connections, page by page,
and puts one Requested event each (origin `sweep`, or `hold-expired` past the policy's
`hold.expires_after`). Where a governing file sets `revoke: true`, it also lists `available`
connections and requests a revocation check of each. A service whose listing or whose events
fail does not stop the others; the sweep raises at the end so the failure is retried and seen.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from acceptor.aws.bus import Bus, EventsNotPut
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AwsError
from acceptor.aws.managed_services import EndpointServices
from acceptor.contract import RequestedDetail, requested
from acceptor.decision.connection import AVAILABLE, PENDING, Connection
from acceptor.decision.sweep import pending_requests, revocation_requests, services_to_revoke
from acceptor.flows.managed import (
    NotificationReport,
    keep_notifications,
    managed_set_warnings,
    scan,
)
from acceptor.flows.telemetry import ERRORS, HOLDS_EXPIRED, SWEPT, count, level, logger, tracer
from acceptor.policy.policy_set import PolicySet

# Events are built and put a page at a time, so a sweep's memory does not grow with the
# number of connections.
PUT_PAGE = 500


class SweepIncomplete(Exception):
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        super().__init__(f"the sweep was incomplete: {'; '.join(str(e) for e in errors)}")


@dataclass
class SweepReport:
    services: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    """Services of the account the acceptor leaves alone (untagged, or filtered out)."""
    notifications: NotificationReport = field(default_factory=NotificationReport)
    policy_warnings: int = 0
    requested: int = 0
    hold_expired: int = 0
    revocation_checks: int = 0
    errors: list[Exception] = field(default_factory=list)


@dataclass(frozen=True)
class Notifications:
    """Where the managed services' connection notifications go (Reconcile's settings)."""

    topic_arn: str | None
    own_topic_prefix: str = ""


@tracer.capture_method
def reconcile(
    ec2: ProviderEc2,
    services: EndpointServices,
    bus: Bus,
    policy: PolicySet,
    *,
    only: Collection[str],
    notifications: Notifications,
    now: datetime,
    correlation_id: str,
) -> SweepReport:
    """Scan, keep the notifications, count the policy's warnings, sweep. A failed scan stops the
    run (nothing is swept on a guess); failed notification changes are raised after the sweep."""
    result = scan(services, only)
    kept = NotificationReport()
    if notifications.topic_arn:
        try:
            kept = keep_notifications(
                services, result.managed, notifications.topic_arn, notifications.own_topic_prefix
            )
        except AwsError as err:
            kept.errors.append(err)
    warnings = managed_set_warnings(policy, result.managed)
    try:
        report = sweep(
            ec2, bus, policy, sorted(result.managed), now=now, correlation_id=correlation_id
        )
    except SweepIncomplete as err:
        err.errors.extend(kept.errors)
        raise
    report.unmanaged = sorted({*result.untagged, *result.filtered_out})
    report.notifications = kept
    report.policy_warnings = len(warnings)
    if kept.errors:
        raise SweepIncomplete(list(kept.errors))
    return report


@tracer.capture_method
def sweep(
    ec2: ProviderEc2,
    bus: Bus,
    policy: PolicySet,
    managed: Iterable[str],
    *,
    now: datetime,
    correlation_id: str,
) -> SweepReport:
    """Request a decision of every pending connection of the managed services (exactly these:
    none managed, nothing swept)."""
    report = SweepReport(services=list(managed))
    revoking = set(services_to_revoke(policy, report.services))
    for service_id in report.services:
        try:
            for page in _pages(ec2.list_connections(service_id, PENDING)):
                _put(bus, pending_requests(page, policy, now, correlation_id), report)
            if service_id in revoking:
                for page in _pages(ec2.list_connections(service_id, AVAILABLE)):
                    _put(bus, revocation_requests(page, correlation_id), report)
        except (AwsError, EventsNotPut) as err:
            logger.error("sweep of a service failed", extra={"service_id": service_id})
            report.errors.append(err)
    logger.info(
        "sweep done",
        extra={
            "correlation_id": correlation_id,
            "services": len(report.services),
            "requested": report.requested,
            "hold_expired": report.hold_expired,
            "revocation_checks": report.revocation_checks,
        },
    )
    level(SWEPT, report.requested - report.revocation_checks)
    count(HOLDS_EXPIRED, report.hold_expired)
    count(ERRORS, len(report.errors))
    if report.errors:
        raise SweepIncomplete(report.errors)
    return report


def _pages(connections: Iterator[Connection]) -> Iterator[list[Connection]]:
    while page := list(islice(connections, PUT_PAGE)):
        yield page


def _put(bus: Bus, requests: list[RequestedDetail], report: SweepReport) -> None:
    bus.put([requested(request) for request in requests])
    for request in requests:
        report.requested += 1
        report.hold_expired += request.origin == "hold-expired"
        report.revocation_checks += request.origin == "revocation"
