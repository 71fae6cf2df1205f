"""The Powertools logger, metrics and tracer every flow shares (they are configured from the
POWERTOOLS_* environment variables; creating them builds no AWS client)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from acceptor.contract import DecisionName

logger = Logger(service="privatelink-acceptor")
metrics = Metrics(namespace="PrivateLinkAcceptor", service="privatelink-acceptor")
tracer = Tracer(service="privatelink-acceptor")

DECISION_METRICS: dict[DecisionName, str] = {
    "accept": "Accepted",
    "reject": "Rejected",
    "hold": "Held",
    "ignore": "Ignored",
}
ERRORS = "Errors"
LATENCY = "DecisionLatency"
UNPARSEABLE = "UnparseableNotifications"
NOTIFICATIONS = "Notifications"
EMPTY_NOTIFICATION_EVENTS = "EmptyNotificationEvents"  # an SNS event with no records
NOT_FOUND_NOTIFICATIONS = "NotificationsNotFound"  # a Connect no re-read shows yet
SWEPT = "PendingSwept"
HOLDS_EXPIRED = "HoldsExpired"


def count(name: str, value: int = 1) -> None:
    """An occurrence count: nothing is sent for zero."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def level(name: str, value: int) -> None:
    """A quantity measured each time, zero included (a sweep that found nothing pending)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def level_of(name: str, value: int, dimension: str, of: str) -> None:
    """A quantity of one thing (a provider group), as a series of its own: dimensions
    `dimension` and `service`, written at once (Powertools' `single_metric`: the batch of
    `metrics` has one dimension set for all its metrics). A Metrics Insights alarm groups by
    `dimension` (docs/operations.md, "Alarms")."""
    service = str(metrics.service or "privatelink-acceptor")
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={dimension: of, "service": service},
    ):
        pass


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


# The managed services (docs/operations.md, "Managed services").
MANAGED_SERVICES = "ManagedServices"
UNMANAGED_SERVICES = "UnmanagedServices"
NOTIFICATIONS_CHANGED = "ConnectionNotificationsChanged"
POLICY_WARNINGS = "PolicyWarnings"
