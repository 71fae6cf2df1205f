"""IngestFunction: connection notifications from the stack's SNS topic.

An unparseable message is logged with its body and raised, so Lambda's async retries and
the on-failure destination (dead-letter queue) get it.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from acceptor.aws.clients import default_clients
from acceptor.flows import wiring
from acceptor.flows.ingest import ingest
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.settings import Settings

EVENT_MODEL = SnsModel


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environ(os.environ)
    notifications = parse(event=event, model=EVENT_MODEL)
    clients = default_clients()
    ingested = ingest(
        notifications.Records, wiring.provider_ec2(clients), wiring.bus(settings, clients)
    )
    return {
        "events": [
            {"message_id": item.message_id, "detail_type": item.event.detail_type.value}
            for item in ingested
        ]
    }
