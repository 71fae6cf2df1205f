"""ApprovalFunction: a person's accept or reject of a held request, through a function URL.

Two URLs, one function each way in (template.yaml): `handler` behind `AuthType: AWS_IAM`
(the caller's IAM ARN is the approver; `acceptor approve|reject` signs with SigV4), and
`slack_handler` behind `AuthType: NONE` for Slack's buttons (Slack's signature is checked before
anything else). Both answer JSON with an HTTP status (docs/operations.md, "Approving a held
request").
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from acceptor.approval.http import body_bytes, caller_arn, response
from acceptor.approval.model import ApprovalAsk
from acceptor.aws.clients import default_clients
from acceptor.flows import wiring
from acceptor.flows.approval import approve, slack_click
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.settings import ApprovalSettings, SlackInteractionSettings

EVENT_MODEL = LambdaFunctionUrlModel


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ApprovalSettings.from_environ(os.environ)
    request = parse(event=event, model=EVENT_MODEL)
    approver = caller_arn(request)
    if approver is None:
        logger.warning("approval without an IAM caller refused (is the URL's AuthType AWS_IAM?)")
        return response(403, {"status": "refused", "message": "no IAM caller in the request"})
    try:
        ask = ApprovalAsk.model_validate_json(body_bytes(request))
    except ValidationError as err:
        return response(
            400,
            {
                "status": "invalid",
                "message": "expected {endpoint_id, decision: accept|reject, reason}",
                "errors": err.errors(include_url=False, include_input=False),
            },
        )
    outcome = approve(
        ask,
        approver,
        request.requestContext.requestId,
        wiring.policy(settings),
        wiring.approval_deps(settings, default_clients()),
    )
    return response(outcome.http_status, outcome.body())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
def slack_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = SlackInteractionSettings.from_environ(os.environ)
    request = parse(event=event, model=EVENT_MODEL)
    clients = default_clients()
    outcome = slack_click(
        request.headers,
        body_bytes(request),
        request.requestContext.requestId,
        wiring.policy(settings),
        wiring.approval_deps(settings, clients),
        wiring.signing_secrets(clients),
    )
    return response(outcome.http_status, outcome.body())
