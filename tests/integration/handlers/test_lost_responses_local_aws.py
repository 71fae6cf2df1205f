"""Lost responses on the local AWS (docs/architecture.md, "Intents"): an accept that AWS
applies but answers with a 500 (the fault injector's `applied_then_5xx`) is completed on the
queue's retry as the same accept: record, Decided event, and nothing decided twice."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from handlers_stack import Stack

from acceptor_tools.local_aws import FaultRule

POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333"]}
"""


def _decided(stack: Stack) -> list[dict[str, Any]]:
    return [
        e["detail"] for e in stack.observed() if e["detail-type"] == "Endpoint Connection Decided"
    ]


def test_accept_applied_then_answered_500_is_recorded_and_published_on_retry(
    stack: Stack,
) -> None:
    # Given a pending connection the policy accepts
    stack.policy(POLICY)
    (endpoint,) = stack.aws.create_endpoints(["payments-orders"])
    stack.ingest(stack.notifications())
    requested = stack.requested()

    # When every accept is applied and its response lost (botocore's retries included)
    stack.aws.faults.configure(
        [FaultRule("AcceptVpcEndpointConnections", "applied_then_5xx", 1.0)], seed=1
    )
    with pytest.raises(BatchProcessingError, match="after applying"):
        stack.decide(requested)

    # Then the request goes back to the queue, the connection is accepted, the intent is open
    assert stack.state(endpoint.id) == "available"
    assert stack.decisions(endpoint.id) == []
    assert [d for d in _decided(stack) if d["endpoint_id"] == endpoint.id] == []
    intent = stack.intent(endpoint.id)
    assert intent is not None
    assert intent["status"] == "open"

    # When the queue delivers it again, with AWS answering normally
    stack.aws.faults.clear()
    accepts_before = stack.actions_of("DecideFunction").count("ec2:AcceptVpcEndpointConnections")
    second = stack.decide(requested)

    # Then the same accept is recorded and published, and no accept is called again
    assert second == {"batchItemFailures": []}
    (detail,) = [d for d in _decided(stack) if d["endpoint_id"] == endpoint.id]
    assert detail["decision"] == "accept"
    assert detail["rule"] == "payments-prod"
    assert detail["action"] == {"type": "accept", "result": "succeeded", "error": None}
    assert detail["state_after"] == "available"
    (record,) = stack.decisions(endpoint.id)
    assert record["decision"] == "accept"
    assert (
        stack.actions_of("DecideFunction").count("ec2:AcceptVpcEndpointConnections")
        == accepts_before
    )
    closed = stack.intent(endpoint.id)
    assert closed is not None
    assert closed["status"] == "done"
