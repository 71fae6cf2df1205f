"""IngestFunction: connection notifications from the stack's SNS topic.

The event is read record by record in the flow (one bad record does not stop the others), so
it is not parsed as a whole here. An unreadable record is logged with its body and raised after
the good ones went out, so Lambda's async retries and the on-failure destination (dead-letter
queue) get it.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from acceptor.aws.clients import default_clients
from acceptor.flows import wiring
from acceptor.flows.ingest import IngestDeps, ingest_event
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.settings import IngestSettings

# The event's shape (the samples in events/ are checked against it); the flow validates each
# record on its own with this model's `SnsRecordModel`.
EVENT_MODEL = SnsModel


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = IngestSettings.from_environ(os.environ)
    clients = default_clients()
    deps = IngestDeps(
        ec2=wiring.provider_ec2(clients),
        bus=wiring.bus(settings, clients),
        managed=frozenset(settings.managed_services),
    )
    ingested = ingest_event(event, deps)
    return {
        "events": [
            {"message_id": item.message_id, "detail_type": item.event.detail_type.value}
            for item in ingested
        ]
    }
