"""The managed set, scanned from the services' tags, and the notifications Reconcile keeps.

`scan` reads every endpoint service of the account, logs the result and publishes it as metrics
(docs/operations.md, "Managed services"). `keep_notifications` makes each managed service have
one connection notification of the acceptor's (`acceptor/managed.py` plans it) with at most
MAX_CHANGES writes per run: the rest waits for the next sweep, so a first sweep over thousands
of services does not drain EC2's token bucket for mutating calls.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from acceptor.aws.errors import AwsError, Throttled
from acceptor.aws.managed_services import EndpointServices
from acceptor.flows.telemetry import (
    MANAGED_SERVICES,
    NOTIFICATIONS_CHANGED,
    POLICY_WARNINGS,
    UNMANAGED_SERVICES,
    count,
    level,
    logger,
)
from acceptor.managed import Create, ManagedScan, Remove, Repair, managed_scan, plan_notifications
from acceptor.policy.policy_set import PolicySet
from acceptor.policy.warnings import MANAGED_SET_CODES, PolicyWarning, policy_warnings

# Mutating EC2 calls share a bucket of about 50 (refill 5/s) per account and region; 40 a run
# leaves room for Decide's accepts and for people (docs/operations.md, "Managed services").
MAX_CHANGES = 40


def scan(services: EndpointServices, only: Collection[str] = ()) -> ManagedScan:
    result = managed_scan(services.services(), only)
    logger.info(
        "managed services scanned",
        extra={
            "managed": sorted(result.managed),
            "untagged": list(result.untagged),
            "filtered_out": list(result.filtered_out),
            "listed_untagged": list(result.listed_untagged),
            "without_acceptance": list(result.without_acceptance),
        },
    )
    if result.listed_untagged:
        logger.warning(
            "ManagedServiceIds names services that are not tagged "
            "privatelink-acceptor:managed=true: they are not managed",
            extra={"services": list(result.listed_untagged)},
        )
    level(MANAGED_SERVICES, len(result.managed))
    level(UNMANAGED_SERVICES, len(result.untagged) + len(result.filtered_out))
    return result


@dataclass
class NotificationReport:
    created: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    deferred: int = 0
    """Changes left for the next run (MAX_CHANGES)."""
    errors: list[AwsError] = field(default_factory=list)


def keep_notifications(
    services: EndpointServices,
    managed: Collection[str],
    topic_arn: str,
    own_topic_prefix: str = "",
    *,
    max_changes: int = MAX_CHANGES,
) -> NotificationReport:
    """Create, repair and remove the acceptor's own notifications; idempotent. A change that
    fails is reported and the others go on; once throttled (after botocore's retries) the run
    stops writing and leaves the rest to the next sweep."""
    report = NotificationReport()
    changes = plan_notifications(managed, services.notifications(), topic_arn, own_topic_prefix)
    now, later = changes[:max_changes], changes[max_changes:]
    report.deferred = len(later)
    removals = [change for change in now if isinstance(change, Remove)]
    writes = [change for change in now if not isinstance(change, Remove)]
    for position, change in enumerate(writes):
        try:
            if isinstance(change, Create):
                services.create(change.service_id, topic_arn)
                report.created.append(change.service_id)
            elif isinstance(change, Repair):
                services.repair(change.notification_id, topic_arn)
                report.repaired.append(change.service_id)
        except Throttled as err:
            # Still throttled after botocore's retries: this change and the rest wait.
            report.errors.append(err)
            report.deferred += len(writes) - position + len(removals)
            removals = []
            break
        except AwsError as err:
            logger.error(
                "connection notification not kept",
                extra={"service_id": change.service_id, "error": str(err)},
            )
            report.errors.append(err)
    if removals:
        try:
            failures = services.remove([change.notification_id for change in removals])
        except AwsError as err:
            report.errors.append(err)
        else:
            report.errors.extend(failures.values())
            report.removed.extend(
                c.service_id for c in removals if c.notification_id not in failures
            )
    logger.info(
        "connection notifications kept",
        extra={
            "topic_arn": topic_arn,
            "notifications_created": report.created,
            "notifications_repaired": report.repaired,
            "notifications_removed": report.removed,
            "deferred": report.deferred,
            "errors": [str(err) for err in report.errors],
        },
    )
    count(NOTIFICATIONS_CHANGED, len(report.created) + len(report.repaired) + len(report.removed))
    return report


def managed_set_warnings(policy: PolicySet, managed: frozenset[str]) -> list[PolicyWarning]:
    """The policy's warnings about the managed set, logged and counted (alarmed)."""
    warnings = [w for w in policy_warnings(policy, managed) if w.code in MANAGED_SET_CODES]
    for warning in warnings:
        logger.warning(
            "policy file and managed services disagree",
            extra={"path": warning.path, "code": warning.code, "warning": warning.message},
        )
    level(POLICY_WARNINGS, len(warnings))
    return warnings
