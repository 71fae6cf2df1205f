"""The Powertools logger, metrics and tracer every flow shares (they are configured from the
POWERTOOLS_* environment variables; creating them builds no AWS client)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

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


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


# The managed services (docs/operations.md, "Managed services").
MANAGED_SERVICES = "ManagedServices"
UNMANAGED_SERVICES = "UnmanagedServices"
NOTIFICATIONS_CHANGED = "ConnectionNotificationsChanged"
POLICY_WARNINGS = "PolicyWarnings"
