"""`acceptor connections` against the local AWS: every connection of the managed services with
its state, last decision, reason, missing facts, approver and hold expiry, read from
DescribeVpcEndpointConnections and the decision log's `by-service` index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handlers_stack import DECISION_TABLE, Stack
from url_events import NETWORK_ADMINS, answer, approval_event

from acceptor_tools.cli import main

POLICY = """\
version: 1
services: ["*"]
default: hold
hold: {expires_after: 3d}
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333", "222233334444"], tags: {env: prod}}
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
approval:
  approvers: ["{approver}"]
""".replace("{approver}", NETWORK_ADMINS)


@pytest.fixture
def decided(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Given the demo world's endpoints decided (the partner's held, the payments' accepted)."""
    stack.policy(POLICY)
    stack.aws.create_endpoints()
    stack.ingest(stack.notifications())
    stack.decide(stack.requested())
    stack.observed()
    issued = stack.aws.credentials(stack.aws.world.provider_account)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", issued["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", issued["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", issued["SessionToken"])
    return stack


def listed(stack: Stack, capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, Any]]:
    policy = str(Path(stack.folder) / "policies")
    capsys.readouterr()  # the handlers' own log lines so far
    code = main(
        ["connections", "--decision-table", DECISION_TABLE, "--policy", policy, "--json", *options]
    )
    assert code == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_held_lists_the_partner_with_its_reason_missing_fact_and_hold_expiry(
    decided: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = listed(decided, capsys, "--state", "held")

    assert row["endpoint_id"] == decided.aws.world.endpoints["partner-orders"].id
    assert (row["state"], row["decision"], row["approved_by"]) == (
        "pendingAcceptance",
        "hold",
        None,
    )
    assert "No rule matched" in row["reason"]
    assert row["missing_facts"] == []
    assert row["hold_expires_at"] is not None


def test_all_lists_every_connection_with_its_last_decision_and_the_approver_once_approved(
    decided: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = decided.aws.world.endpoints["partner-orders"].id
    status, _ = answer(decided.approval(approval_event(partner)))
    decided.decide(decided.requested())

    rows = {row["endpoint_id"]: row for row in listed(decided, capsys)}

    assert status == 202
    assert len(rows) == len(decided.aws.world.endpoints) - 1  # status-api needs no acceptance
    assert rows[partner]["decision"] == "accept"
    assert rows[partner]["approved_by"].endswith("assumed-role/NetworkAdmins/alice")
    assert rows[partner]["hold_expires_at"] is None
    sandbox = decided.aws.world.endpoints["sandbox-orders"].id
    assert (rows[sandbox]["state"], rows[sandbox]["decision"]) == ("rejected", "reject")
    assert listed(decided, capsys, "--state", "held") == []


def test_the_view_reads_the_index_and_never_scans_the_decision_table(
    decided: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def watch(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(f"{operation}:{params.get('IndexName', '')}")
        return original(self, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", watch)
        listed(decided, capsys, "--state", "all")

    assert "Scan:" not in calls
    assert "Query:by-service" in calls
