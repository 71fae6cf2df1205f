"""Reconcile: the periodic sweep that feeds every pending connection through Decide again.

For each managed service (MANAGED_SERVICE_IDS; when empty, every endpoint service of the
account that requires acceptance) it lists the `pendingAcceptance` connections, page by page,
and puts one Requested event each (origin `sweep`, or `hold-expired` past the policy's
`hold.expires_after`). Where a governing file sets `revoke: true`, it also lists `available`
connections and requests a revocation check of each. A service whose listing or whose events
fail does not stop the others; the sweep raises at the end so the failure is retried and seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from acceptor.aws.bus import Bus, EventsNotPut
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AwsError
from acceptor.contract import RequestedDetail, requested
from acceptor.decision.connection import AVAILABLE, PENDING, Connection
from acceptor.decision.sweep import pending_requests, revocation_requests, services_to_revoke
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
    requested: int = 0
    hold_expired: int = 0
    revocation_checks: int = 0
    errors: list[Exception] = field(default_factory=list)


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
    report = SweepReport(services=list(managed) or ec2.owned_services())
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
