"""DecideFunction: batches of Requested events from the Decide queue.

Decisions are made for the whole batch at once (one accept/reject call per service); the
records whose request could not be completed are reported as batch item failures, so only
they are retried. An invalid policy fails the whole invocation: nothing is decided from it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from acceptor.aws.clients import default_clients
from acceptor.contract import RequestedEvent
from acceptor.flows import wiring
from acceptor.flows.decide import RecordFailed, decide_batch, services_named
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.settings import DecideSettings

EVENT_MODEL = SqsModel
RECORD_BODY_MODEL = RequestedEvent


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = DecideSettings.from_environ(os.environ)
    messages = _messages(event)
    policy = wiring.policy(settings)
    deps = wiring.decide_deps(
        settings,
        default_clients(),
        context.get_remaining_time_in_millis,
        requested=services_named(body for _, body in messages),
    )
    outcome = decide_batch(
        messages,
        policy,
        deps,
        dry_run=settings.dry_run,
        ttl=timedelta(days=settings.decision_ttl_days),
    )

    def report(record: SQSRecord) -> None:
        failure = outcome.failures.get(record.message_id)
        if failure is not None:
            raise RecordFailed(str(failure)) from failure

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=report, processor=processor, context=context
    )


def _messages(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The batch's (SQS message ID, body) pairs, from the event parsed as SQS's shape. Only
    the pairs outlive this call: the parsed models of a 5,000-record batch would otherwise stay
    alive through the whole flow (docs/architecture.md, "Memory")."""
    batch = parse(event=event, model=EVENT_MODEL)
    return [(record.messageId, str(record.body)) for record in batch.Records]
