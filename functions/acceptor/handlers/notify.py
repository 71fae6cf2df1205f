"""NotifyFunction: decisions, state changes and security-group updates from the acceptor's bus,
CloudTrail accept/reject/permission calls from the default bus, and the daily digest of held
requests from its schedule.

The flow (`acceptor.flows.notify`) plans the message, picks the channels and delivers each
(message, channel) pair once; a Scheduled Event goes to the digest flow (`acceptor.flows.digest`)
instead (docs/notifications.md).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from acceptor.aws.clients import default_clients
from acceptor.flows import wiring
from acceptor.flows.digest import held_digest
from acceptor.flows.notify import NotifySettings, notify
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.policy.loader import cached_policy
from acceptor.settings import NotifySettings as Settings

SCHEDULED = "Scheduled Event"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environ(os.environ)
    clients = default_clients()
    deps = wiring.notify_deps(settings, clients)
    flow = NotifySettings(
        policy=functools.partial(cached_policy, settings.policy_path),
        is_managed=wiring.managed_check(settings, clients),
        acceptor_role_arns=settings.acceptor_role_arns,
    )
    if event.get("detail-type") == SCHEDULED:
        return held_digest(event, context, flow, deps, wiring.digest_reads(settings, clients))
    return notify(event, context, flow, deps)
