"""ReconcileFunction: the managed services' notifications, then the scheduled sweep of pending
connections (and revocation checks)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from acceptor.aws.clients import default_clients
from acceptor.flows import wiring
from acceptor.flows.reconcile import Notifications, reconcile
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.settings import ReconcileSettings

EVENT_MODEL = EventBridgeModel


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReconcileSettings.from_environ(os.environ)
    schedule = parse(event=event, model=EVENT_MODEL)
    policy = wiring.policy(settings)
    clients = default_clients()
    report = reconcile(
        wiring.provider_ec2(clients),
        wiring.endpoint_services(clients),
        wiring.bus(settings, clients),
        policy,
        only=settings.managed_services,
        notifications=Notifications(
            settings.connection_topic_arn, settings.connection_topic_prefix
        ),
        now=wiring.utc_now(),
        correlation_id=schedule.id,
    )
    return {
        "services": report.services,
        "unmanaged": report.unmanaged,
        "notifications_created": report.notifications.created,
        "notifications_repaired": report.notifications.repaired,
        "notifications_removed": report.notifications.removed,
        "policy_warnings": report.policy_warnings,
        "requested": report.requested,
        "hold_expired": report.hold_expired,
        "revocation_checks": report.revocation_checks,
    }
