"""The three handlers against the local AWS: a consumer creates endpoints, the notifications
reach Ingest, the Requested events reach Decide through the bus and its queue, and the
connections end in the state the policy says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from handlers_stack import Stack

from acceptor.notification import UnparseableNotification
from acceptor_tools.local_aws import LocalAws

POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: payments-prod
    decision: accept
    when:
      accounts: ["111122223333", "222233334444"]
      tags: {env: prod}
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
"""

DECIDED_BY_POLICY = {
    "payments-orders": ("accept", "available"),
    "payments-reports": ("accept", "available"),
    "analytics-orders": ("accept", "available"),
    "sandbox-orders": ("reject", "rejected"),
    "partner-orders": ("hold", "pendingAcceptance"),
}


def endpoints(aws: LocalAws) -> dict[str, str]:
    return {name: info.id for name, info in aws.world.endpoints.items()}


def decided(stack: Stack) -> dict[str, dict[str, Any]]:
    return {
        e["detail"]["endpoint_id"]: e["detail"]
        for e in stack.observed()
        if e["detail-type"] == "Endpoint Connection Decided"
    }


def notify_and_request(stack: Stack) -> list[dict[str, Any]]:
    stack.aws.create_endpoints()
    stack.ingest(stack.notifications())
    return stack.requested()


def test_notifications_flow_to_decisions_and_the_local_aws_follows_the_policy(
    stack: Stack,
) -> None:
    stack.policy(POLICY)

    requested = notify_and_request(stack)
    response = stack.decide(requested)

    ids = endpoints(stack.aws)
    assert response == {"batchItemFailures": []}
    assert len(requested) == len(DECIDED_BY_POLICY)
    events = decided(stack)
    for name, (decision, state) in DECIDED_BY_POLICY.items():
        assert events[ids[name]]["decision"] == decision, name
        assert stack.state(ids[name]) == state, name
    assert events[ids["partner-orders"]]["action"] == {
        "type": "none",
        "result": "skipped",
        "error": None,
    }
    accept_calls = [c for c in stack.calls if c.operation == "AcceptVpcEndpointConnections"]
    assert len(accept_calls) == 2, "one per service: orders-api and reports-api"


def test_decided_event_carries_consumer_facts_and_the_record_is_kept(stack: Stack) -> None:
    stack.policy(POLICY)

    stack.decide(notify_and_request(stack))

    payments = stack.aws.world.endpoints["payments-orders"]
    detail = decided(stack)[payments.id]
    vpc = stack.aws.world.vpc("111122223333", "payments")
    assert detail["vpc_id"] == vpc.id
    assert set(detail["vpc_cidrs"]) == {vpc.cidr, vpc.ipv6_cidr}
    assert detail["rule"] == "payments-prod"
    assert detail["origin"] == "notification"
    (record,) = stack.decisions(payments.id)
    assert record["facts"]["ou_path"] == ["r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"]
    assert record["facts"]["tags"]["owner"] == "alice"
    assert record["action"]["result"] == "succeeded"
    assert record["expires_at"] > 0


def test_dry_run_decides_records_and_publishes_but_changes_nothing(stack: Stack) -> None:
    stack.policy(POLICY)
    stack.environment(DRY_RUN="true")

    stack.decide(notify_and_request(stack))

    ids = endpoints(stack.aws)
    events = decided(stack)
    assert {stack.state(ids[name]) for name in DECIDED_BY_POLICY} == {"pendingAcceptance"}
    assert events[ids["payments-orders"]]["action"]["result"] == "dry-run"
    assert events[ids["sandbox-orders"]]["dry_run"] is True
    assert "DecideFunction" not in {
        c.function for c in stack.calls if c.operation.startswith(("Accept", "Reject"))
    }
    assert stack.decisions(ids["payments-orders"])


def test_a_duplicate_event_acts_once(stack: Stack) -> None:
    stack.policy(POLICY)
    requested = notify_and_request(stack)

    stack.decide(requested)
    first = decided(stack)
    again = stack.decide(requested)

    assert again == {"batchItemFailures": []}
    assert decided(stack) == {}, "nothing decided or published twice"
    acts = [
        c
        for c in stack.calls
        if c.operation.endswith("VpcEndpointConnections")
        and c.operation.startswith(("Accept", "Reject"))
    ]
    assert len(acts) == 3, "accept orders-api, accept reports-api, reject orders-api"
    assert len(first) == len(DECIDED_BY_POLICY)


def test_an_endpoint_deleted_before_the_accept_is_reported_as_a_failed_action(
    stack: Stack,
) -> None:
    stack.policy(POLICY)
    requested = notify_and_request(stack)
    payments = stack.aws.world.endpoints["payments-orders"]
    consumer = stack.aws.client("ec2", account=payments.account)

    def consumer_deletes_first(params: dict[str, Any], **_: Any) -> None:
        if payments.id in params.get("VpcEndpointIds", []):
            consumer.delete_vpc_endpoints(VpcEndpointIds=[payments.id])

    stack.clients_of("DecideFunction").ec2().meta.events.register(
        "before-parameter-build.ec2.AcceptVpcEndpointConnections", consumer_deletes_first
    )

    response = stack.decide(requested)

    assert response == {"batchItemFailures": []}, "reported, not retried"
    action = decided(stack)[payments.id]["action"]
    assert (action["type"], action["result"]) == ("accept", "failed")
    assert action["error"]
    assert stack.state(stack.aws.world.endpoints["payments-reports"].id) == "available"


@pytest.mark.parametrize("shape", ["default", "pascal", "eventbridge", "text"])
def test_every_notification_shape_becomes_a_requested_event(stack: Stack, shape: str) -> None:
    stack.aws.set_notification_shape(shape)

    requested = notify_and_request(stack)

    bodies = [json.loads(r["body"]) for r in requested]
    assert {b["detail"]["endpoint_id"] for b in bodies} == {
        endpoints(stack.aws)[name] for name in DECIDED_BY_POLICY
    }
    assert {b["detail"]["origin"] for b in bodies} == {"notification"}


def test_accept_and_delete_notifications_become_state_changed_events(stack: Stack) -> None:
    stack.policy(POLICY)
    stack.decide(notify_and_request(stack))
    stack.observed()
    partner = stack.aws.world.endpoints["partner-orders"]
    stack.aws.client("ec2", account=partner.account).delete_vpc_endpoints(
        VpcEndpointIds=[partner.id]
    )

    stack.ingest(stack.notifications())

    changes = {
        e["detail"]["endpoint_id"]: e["detail"]
        for e in stack.observed()
        if e["detail-type"] == "Endpoint Connection State Changed"
    }
    ids = endpoints(stack.aws)
    assert changes[ids["payments-orders"]]["event_type"] == "Accept"
    assert changes[ids["sandbox-orders"]]["state"] == "rejected"
    assert changes[partner.id]["event_type"] == "Delete"
    assert changes[partner.id]["state"] in ("deleted", "deleting")
    assert stack.requested() == [], "no state change is requested for a decision"


def test_an_unparseable_notification_raises_with_a_clear_log(stack: Stack) -> None:
    stack.aws.set_notification_shape(lambda event: "something happened, no IDs here")
    stack.aws.create_endpoints(["payments-orders"])
    notifications = stack.notifications()

    with stack.logs() as logged, pytest.raises(UnparseableNotification):
        stack.ingest(notifications)

    (error,) = [line for line in logged() if line["level"] == "ERROR"]
    assert error["body"] == "something happened, no IDs here"
    assert error["message_id"] == notifications["Records"][0]["Sns"]["MessageId"]
    assert "unparseable connection notification" in error["message"]
    assert stack.requested() == []
