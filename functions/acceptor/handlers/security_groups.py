"""SecurityGroupsFunction: the acceptor bus's Decided and State Changed events.

The flow (`acceptor.flows.security_groups`) re-reads the connection and acts only on what the
re-read, the bundled policy and the consumer's VPC show (docs/security-groups.md).
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from acceptor.aws.clients import default_clients
from acceptor.flows import wiring
from acceptor.flows.security_groups import update_security_groups
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.settings import SecurityGroupsSettings as Settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environ(os.environ)
    deps = wiring.security_groups_deps(settings, default_clients(), context.invoked_function_arn)
    return update_security_groups(
        event,
        functools.partial(wiring.policy, settings),
        deps,
        dry_run=settings.dry_run,
        ttl=timedelta(days=settings.decision_ttl_days),
    )
