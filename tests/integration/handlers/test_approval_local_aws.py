"""A person's approval of a held request, against the local AWS: ApprovalFunction (IAM URL)
and the Slack interaction URL record it, Decide acts on it only from a valid record while the
policy holds the connection, and SecurityGroups opens `approval.security_groups`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from handlers_stack import Stack
from url_events import (
    ALICE,
    MALLORY,
    NETWORK_ADMINS,
    SLACK_SECRET,
    answer,
    approval_event,
    slack_event,
)

from acceptor.flows import wiring

POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333", "222233334444"], tags: {env: prod}}
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
approval:
  approvers: ["{approver}", "slack:U0123ABCD"]
  security_groups:
    provider: {group: {nlb_group}, ports: [443]}
  expires_after: 1d
notifications:
  ops:
    type: slack
    webhook_secret: privatelink-acceptor/slack-ops
    signing_secret: privatelink-acceptor/slack-signing
""".replace("{approver}", NETWORK_ADMINS)


@pytest.fixture
def held(stack: Stack) -> Stack:
    """Given the demo world's endpoints requested and decided: the partner's is held."""
    provider = stack.aws.world.vpc(stack.aws.world.provider_account, "provider")
    stack.policy(POLICY.replace("{nlb_group}", provider.security_groups["orders-nlb"]))
    stack.clients.client("secretsmanager").create_secret(
        Name="privatelink-acceptor/slack-signing", SecretString=SLACK_SECRET
    )
    stack.aws.create_endpoints()
    stack.ingest(stack.notifications())
    stack.decide(stack.requested())
    stack.observed()
    assert stack.state(partner(stack)) == "pendingAcceptance"
    return stack


def partner(stack: Stack) -> str:
    return stack.aws.world.endpoints["partner-orders"].id


def sandbox(stack: Stack) -> str:
    return stack.aws.world.endpoints["sandbox-orders"].id


def decided_events(stack: Stack) -> list[dict[str, Any]]:
    return [e for e in stack.observed() if e["detail-type"] == "Endpoint Connection Decided"]


def accept_calls(stack: Stack) -> int:
    return sum(1 for c in stack.calls if c.operation == "AcceptVpcEndpointConnections")


def test_held_connection_approved_is_accepted_its_group_opened_and_the_approver_recorded(
    held: Stack,
) -> None:
    endpoint = partner(held)

    status, body = answer(held.approval(approval_event(endpoint, reason="contract PO-1182")))
    requested = held.requested()
    held.decide(requested)
    (event,) = decided_events(held)
    held.security_groups(event)

    assert (status, body["status"]) == (202, "recorded")
    assert [json.loads(r["body"])["detail"]["origin"] for r in requested] == ["approval"]
    assert held.state(endpoint) == "available"
    detail = event["detail"]
    alice = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
    assert (detail["decision"], detail["origin"]) == ("accept", "approval")
    assert (detail["approved_by"], detail["approval_reason"]) == (alice, "contract PO-1182")
    assert detail["security_groups"]["provider"]["ports"] == [443]
    (record,) = [d for d in held.decisions(endpoint) if d.get("origin") == "approval"]
    assert (record["approved_by"], record["decision"]) == (alice, "accept")
    (update,) = held.updates()
    assert update["detail"]["operation"] == "add"
    assert [g["status"] for g in update["detail"]["groups"]] == ["added"]


def test_a_repeated_approval_is_idempotent_and_a_contrary_one_is_already_decided(
    held: Stack,
) -> None:
    endpoint = partner(held)
    first = answer(held.approval(approval_event(endpoint)))
    again = answer(held.approval(approval_event(endpoint)))
    contrary = answer(held.approval(approval_event(endpoint, decision="reject")))

    assert first[0] == again[0] == 202
    assert first[1]["approval_id"] == again[1]["approval_id"]
    assert contrary[0] == 409
    assert contrary[1]["status"] == "already-decided"
    assert held.approval_record(endpoint)["decision"] == "accept"


def test_a_person_s_reject_is_recorded_and_rejects_the_held_connection(held: Stack) -> None:
    endpoint = partner(held)
    status, _ = answer(held.approval(approval_event(endpoint, "reject", "unknown partner")))
    held.decide(held.requested())
    (event,) = decided_events(held)

    assert status == 202
    assert held.state(endpoint) == "rejected"
    assert (event["detail"]["decision"], event["detail"]["approval_reason"]) == (
        "reject",
        "unknown partner",
    )


def test_approval_of_a_connection_a_reject_rule_matches_is_not_applied(stack: Stack) -> None:
    # Given a sandbox endpoint still pending (not yet decided) that a reject rule matches
    provider = stack.aws.world.vpc(stack.aws.world.provider_account, "provider")
    stack.policy(POLICY.replace("{nlb_group}", provider.security_groups["orders-nlb"]))
    stack.aws.create_endpoints(["sandbox-orders"])
    stack.ingest(stack.notifications())
    stack.requested()
    endpoint = sandbox(stack)

    # When a listed approver approves it and Decide is asked
    status, _ = answer(stack.approval(approval_event(endpoint)))
    stack.decide(stack.requested())
    (event,) = decided_events(stack)

    # Then the policy's reject stands: no accept, no approver on the decision
    assert status == 202
    assert stack.state(endpoint) == "rejected"
    assert event["detail"]["decision"] == "reject"
    assert event["detail"]["approved_by"] is None
    assert "approval does not apply" in event["detail"]["reason"]
    assert accept_calls(stack) == 0


def test_approval_of_a_connection_the_policy_already_rejected_is_refused(held: Stack) -> None:
    status, body = answer(held.approval(approval_event(sandbox(held))))

    assert status == 409
    assert (body["status"], body["state"]) == ("already-decided", "rejected")
    assert held.approval_record(sandbox(held)) is None
    assert held.requested() == []


def test_approval_by_someone_not_in_approvers_is_refused_and_nothing_is_recorded(
    held: Stack,
) -> None:
    status, body = answer(held.approval(approval_event(partner(held), caller=MALLORY)))

    assert (status, body["status"]) == (403, "refused")
    assert "approval.approvers" in body["message"]
    assert held.approval_record(partner(held)) is None
    assert held.requested() == []


def test_a_forged_requested_event_with_origin_approval_and_no_record_changes_nothing(
    held: Stack,
) -> None:
    endpoint = partner(held)
    connection = held.aws.world.endpoints["partner-orders"]
    forged = {
        "version": "1",
        "service_id": held.aws.world.services["orders-api"].id,
        "endpoint_id": endpoint,
        "account": connection.account,
        "region": "us-east-1",
        "state": "pendingAcceptance",
        "created_at": "2025-03-04T10:00:00Z",
        "origin": "approval",
        "correlation_id": "forged-1",
    }
    held.clients.events().put_events(
        Entries=[
            {
                "Source": "privatelink-acceptor",
                "DetailType": "Endpoint Connection Requested",
                "Detail": json.dumps(forged),
                "EventBusName": "privatelink-acceptor",
            }
        ]
    )
    calls_before = accept_calls(held)

    with held.logs() as logs:
        response = held.decide(held.requested())

    assert response == {"batchItemFailures": []}
    assert held.state(endpoint) == "pendingAcceptance"
    assert accept_calls(held) == calls_before
    assert decided_events(held) == []
    assert any("no approval record" in line.get("message", "") for line in logs())


def test_an_expired_approval_is_refused_by_decide(
    held: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = partner(held)
    status, _ = answer(held.approval(approval_event(endpoint)))
    later = datetime.now(UTC) + timedelta(days=2)  # the policy's expires_after is 1d
    monkeypatch.setattr(wiring, "utc_now", lambda: later)

    with held.logs() as logs:
        held.decide(held.requested())

    assert status == 202
    assert held.state(endpoint) == "pendingAcceptance"
    assert decided_events(held) == []
    assert any("expired" in line.get("message", "") for line in logs())


def test_approval_of_a_connection_accepted_meanwhile_is_reported_as_already_decided(
    held: Stack,
) -> None:
    endpoint = partner(held)
    held.clients.ec2().accept_vpc_endpoint_connections(
        ServiceId=held.aws.world.services["orders-api"].id, VpcEndpointIds=[endpoint]
    )

    status, body = answer(held.approval(approval_event(endpoint)))

    assert status == 409
    assert body["status"] == "already-decided"
    assert body["state"] in {"pending", "available"}
    assert held.requested() == []


def test_approval_of_a_deleted_endpoint_is_reported_as_such(held: Stack) -> None:
    endpoint = partner(held)
    consumer = held.aws.client("ec2", account=held.aws.world.endpoints["partner-orders"].account)
    consumer.delete_vpc_endpoints(VpcEndpointIds=[endpoint])

    status, body = answer(held.approval(approval_event(endpoint)))

    assert (status, body["status"]) in {(404, "not-found"), (409, "already-decided")}
    if status == 409:
        assert body["state"] in {"deleting", "deleted"}
    assert held.approval_record(endpoint) is None
    assert held.requested() == []


# ---------------------------------------------------------------- Slack


def test_slack_click_with_a_good_signature_by_a_listed_user_records_the_approval(
    held: Stack,
) -> None:
    status, body = answer(held.slack(slack_event(partner(held))))

    assert (status, body["status"]) == (202, "recorded")
    record = held.approval_record(partner(held))
    assert record is not None
    assert record["approver"] == "slack:U0123ABCD"
    assert [json.loads(r["body"])["detail"]["origin"] for r in held.requested()] == ["approval"]


@pytest.mark.parametrize(
    ("change", "want"),
    [
        ({"secret": "not-the-signing-secret"}, 401),
        ({"sent_at": datetime.now(UTC).timestamp() - 6 * 60}, 401),
        ({"user_id": "U9999ZZZZ"}, 403),
    ],
    ids=["bad-signature", "stale-timestamp", "unknown-user"],
)
def test_slack_requests_badly_signed_stale_or_from_unknown_users_are_refused_with_no_change(
    held: Stack, change: dict[str, Any], want: int
) -> None:
    with held.logs() as logs:
        status, _ = answer(held.slack(slack_event(partner(held), **change)))

    assert status == want
    assert held.approval_record(partner(held)) is None
    assert held.requested() == []
    assert any(line.get("level") == "WARNING" for line in logs())


def console_accept_event(stack: Stack, endpoint_id: str) -> dict[str, Any]:
    """CloudTrail's record of an accept by NetworkAdmins/alice, as the default-bus rule delivers
    it to NotifyFunction."""
    path = (
        Path(__file__).resolve().parents[3] / "events" / "cloudtrail-accept-held-by-approver.json"
    )
    event: dict[str, Any] = json.loads(path.read_text())
    request = event["detail"]["requestParameters"]["AcceptVpcEndpointConnectionsRequest"]
    request["ServiceId"] = stack.aws.world.endpoints["partner-orders"].service_id
    request["VpcEndpointId"] = {"tag": 1, "content": endpoint_id}
    return event


def test_console_accept_of_a_held_connection_is_recorded_as_the_persons_accept(
    held: Stack,
) -> None:
    # Given the partner held, and a network admin accepting it in the console
    endpoint = partner(held)
    held.clients.ec2().accept_vpc_endpoint_connections(
        ServiceId=held.aws.world.endpoints["partner-orders"].service_id, VpcEndpointIds=[endpoint]
    )
    accepted_by_hand = accept_calls(held)

    # When CloudTrail's record of it reaches Notify, and Decide gets what Notify asked
    answered = held.notify(console_accept_event(held, endpoint))
    requests = held.requested()
    held.decide(requests)

    # Then no alert: an approval record names alice, and Decide records her accept with
    # nothing left to do (no second accept call) and the approval's groups for SecurityGroups
    assert answered["status"] == "ignored"
    record = held.approval_record(endpoint)
    assert record is not None
    assert (record["approver"], record["decision"]) == (ALICE, "accept")
    assert [json.loads(r["body"])["detail"]["origin"] for r in requests] == ["approval"]
    (decided,) = decided_events(held)
    detail = decided["detail"]
    assert (detail["decision"], detail["action"]["type"], detail["approved_by"]) == (
        "accept",
        "none",
        ALICE,
    )
    assert detail["security_groups"] is not None
    assert accept_calls(held) == accepted_by_hand
    last = max(held.decisions(endpoint), key=lambda d: str(d["decided_at"]))
    assert (last["decision"], last.get("approved_by")) == ("accept", ALICE)


def test_console_accept_of_a_connection_the_policy_rejects_alerts_and_records_nothing(
    held: Stack,
) -> None:
    # Given the sandbox endpoint rejected by the policy, accepted by hand anyway
    endpoint = sandbox(held)

    answered = held.notify(console_accept_event(held, endpoint))

    assert answered["status"] == "delivered"
    assert held.approval_record(endpoint) is None
    assert held.requested() == []
