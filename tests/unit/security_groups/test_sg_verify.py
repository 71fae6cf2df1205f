"""What a Decided or State Changed event may make SecurityGroups do, judged on re-read facts
(docs/security-groups.md, "What an event may make it do"). A forged or stale event opens
nothing: every fact it names must be borne out by the re-read connection and the bundled
policy, and the ports come from the policy's rule, never from the event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from acceptor.approval.model import ApprovalRecord
from acceptor.decision.connection import Connection
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet
from acceptor.security_groups.verify import (
    AcceptClaim,
    Opening,
    Refusal,
    verify_accept,
    verify_gone,
)

SERVICE = "vpce-svc-0123456789abcdef0"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
CONSUMER = "999988887777"
POLICY = f"""
version: 1
services: ["{SERVICE}"]
rules:
  - name: payments-prod
    decision: accept
    when: {{accounts: ["{CONSUMER}"]}}
    security_groups:
      provider: {{group: sg-0bbbbbbbbbbbbbbb1, ports: [443]}}
  - name: no-sandboxes
    decision: reject
    when: {{accounts: ["111111111111"]}}
"""


@pytest.fixture
def policy(tmp_path: Path) -> PolicySet:
    path = tmp_path / "acceptor.yaml"
    path.write_text(POLICY)
    return load_policy([path])


def connection(state: str = "available", **changes: str) -> Connection:
    base = Connection(
        SERVICE, ENDPOINT, CONSUMER, "eu-west-1", state, datetime(2026, 1, 1, tzinfo=UTC)
    )
    return replace(base, **changes)


def claim(policy: PolicySet, **changes: str | None) -> AcceptClaim:
    base = AcceptClaim(ENDPOINT, SERVICE, CONSUMER, "payments-prod", policy.version_hash)
    return replace(base, **changes)


@pytest.mark.parametrize("state", ["pending", "available"])
def test_an_accepted_connection_opens_the_policy_rules_ports(policy: PolicySet, state: str) -> None:
    opening = verify_accept(claim(policy), connection(state), policy, None, planning=False)

    assert isinstance(opening, Opening)
    assert opening.spec is not None
    assert opening.spec.provider is not None
    assert opening.spec.provider.ports == [443]


@pytest.mark.parametrize(
    ("change", "the_connection", "code"),
    [
        ({}, None, "connection-not-found"),
        ({}, connection("pendingAcceptance"), "connection-not-accepted"),
        ({}, connection("rejected"), "connection-not-accepted"),
        ({}, connection(account="123456789012"), "owner-mismatch"),
        ({"account": "123456789012"}, connection(), "owner-mismatch"),
        ({}, connection(service_id="vpce-svc-0fffffffffffffff0"), "service-mismatch"),
        ({"policy_hash": "0000000000000000"}, connection(), "policy-changed"),
        ({"rule": "admin-ssh"}, connection(), "rule-not-found"),
        ({"rule": "no-sandboxes"}, connection(), "rule-not-found"),
        ({"rule": None}, connection(), "rule-not-found"),
    ],
)
def test_a_forged_or_stale_accept_opens_nothing(
    policy: PolicySet, change: dict[str, str | None], the_connection: Connection | None, code: str
) -> None:
    result = verify_accept(claim(policy, **change), the_connection, policy, None, planning=False)

    assert isinstance(result, Refusal)
    assert result.code == code


def test_a_connection_of_a_service_the_stack_does_not_manage_opens_nothing(
    policy: PolicySet,
) -> None:
    managed = frozenset({"vpce-svc-0eeeeeeeeeeeeeee0"})

    result = verify_accept(claim(policy), connection(), policy, managed, planning=False)

    assert isinstance(result, Refusal)
    assert result.code == "service-not-managed"


def test_a_dry_run_may_plan_for_a_connection_still_pending_acceptance(policy: PolicySet) -> None:
    result = verify_accept(
        claim(policy), connection("pendingAcceptance"), policy, None, planning=True
    )

    assert isinstance(result, Opening)


@pytest.mark.parametrize("state", ["rejected", "deleted", "expired", "failed"])
def test_removal_goes_ahead_when_the_re_read_shows_the_connection_over(state: str) -> None:
    assert verify_gone(ENDPOINT, connection(state)) is None


def test_removal_goes_ahead_when_the_connection_is_no_longer_listed() -> None:
    assert verify_gone(ENDPOINT, None) is None


@pytest.mark.parametrize("state", ["available", "pending", "pendingAcceptance", "deleting"])
def test_removal_is_refused_while_the_connection_lives(state: str) -> None:
    refusal = verify_gone(ENDPOINT, connection(state))

    assert refusal is not None
    assert refusal.code == "connection-live"


# An accept a person approved (docs/security-groups.md, "An accept a person approved").

ALICE = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
NOW = datetime(2026, 1, 2, tzinfo=UTC)
APPROVAL_POLICY = f"""
version: 1
services: ["{SERVICE}"]
default: hold
approval:
  approvers: ["arn:aws:iam::999988887777:role/NetworkAdmins"]
  security_groups:
    consumer_endpoint: {{ports: [8443]}}
rules:
  - name: payments-prod
    decision: accept
    when: {{accounts: ["{CONSUMER}"]}}
    security_groups:
      provider: {{group: sg-0bbbbbbbbbbbbbbb1, ports: [22, 443]}}
"""


@pytest.fixture
def approval_policy(tmp_path: Path) -> PolicySet:
    path = tmp_path / "acceptor.yaml"
    path.write_text(APPROVAL_POLICY)
    return load_policy([path])


def record(**changes: Any) -> ApprovalRecord:
    base = ApprovalRecord(
        endpoint_id=ENDPOINT,
        service_id=SERVICE,
        decision="accept",
        approver=ALICE,
        reason="Partner contract PO-1182",
        approved_at=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(days=13),
        approval_id="5f0c8a2e-9d61-4c1b-8f3a-2b7e6d4c1a90",
    )
    return replace(base, **changes)


def approved_claim(policy: PolicySet, **changes: str | None) -> AcceptClaim:
    return replace(claim(policy, rule=None, approved_by=ALICE), **changes)


@pytest.mark.parametrize("state", ["pending", "available"])
def test_an_approved_accept_with_its_record_opens_the_approval_groups_only(
    approval_policy: PolicySet, state: str
) -> None:
    opening = verify_accept(
        approved_claim(approval_policy),
        connection(state),
        approval_policy,
        None,
        planning=False,
        approval=record(),
        now=NOW,
    )

    assert isinstance(opening, Opening)
    assert opening.rule is None
    assert opening.approval == record()
    assert opening.spec is not None
    assert opening.spec.provider is None
    assert opening.spec.consumer_endpoint is not None
    assert opening.spec.consumer_endpoint.ports == [8443]


def test_an_approved_accept_naming_an_accept_rule_still_gets_the_approval_groups(
    approval_policy: PolicySet,
) -> None:
    # The event names the accept rule that opens 22 on the provider group: not looked at.
    opening = verify_accept(
        approved_claim(approval_policy, rule="payments-prod"),
        connection(),
        approval_policy,
        None,
        planning=False,
        approval=record(),
        now=NOW,
    )

    assert isinstance(opening, Opening)
    assert opening.spec is not None
    assert opening.spec.provider is None
    assert opening.spec.consumer_endpoint is not None
    assert opening.spec.consumer_endpoint.ports == [8443]


@pytest.mark.parametrize(
    ("the_record", "says"),
    [
        (None, "holds no approval record"),
        (record(approver="arn:aws:sts::999988887777:assumed-role/NetworkAdmins/mallory"), "names"),
        (record(decision="reject"), "a reject, not an accept"),
        (record(endpoint_id="vpce-0fffffffffffffff0"), "another connection"),
        (record(service_id="vpce-svc-0fffffffffffffff0"), "another connection"),
        (record(expires_at=NOW), "not now"),
        (record(approved_at=NOW + timedelta(minutes=1)), "not now"),
    ],
)
def test_an_approved_accept_without_a_live_accept_record_by_that_approver_opens_nothing(
    approval_policy: PolicySet, the_record: ApprovalRecord | None, says: str
) -> None:
    result = verify_accept(
        approved_claim(approval_policy),
        connection(),
        approval_policy,
        None,
        planning=False,
        approval=the_record,
        now=NOW,
    )

    assert isinstance(result, Refusal)
    assert result.code == "approval-not-found"
    assert says in result.reason


@pytest.mark.parametrize(
    ("change", "the_connection", "code"),
    [
        ({}, connection("pendingAcceptance"), "connection-not-accepted"),
        ({}, connection(account="123456789012"), "owner-mismatch"),
        ({"policy_hash": "0000000000000000"}, connection(), "policy-changed"),
        ({}, None, "connection-not-found"),
    ],
)
def test_an_approval_record_does_not_stand_in_for_the_other_checks(
    approval_policy: PolicySet,
    change: dict[str, str | None],
    the_connection: Connection | None,
    code: str,
) -> None:
    result = verify_accept(
        approved_claim(approval_policy, **change),
        the_connection,
        approval_policy,
        None,
        planning=False,
        approval=record(),
        now=NOW,
    )

    assert isinstance(result, Refusal)
    assert result.code == code


def test_the_first_governing_file_that_sets_approval_groups_gives_them(tmp_path: Path) -> None:
    # Given two files governing the service, both setting approval.security_groups
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(
        f'version: 1\nservices: ["{SERVICE}"]\ndefault: hold\n'
        "approval: {security_groups: {consumer_endpoint: {ports: [8443]}}}\nrules: []\n"
    )
    second.write_text(
        f'version: 1\nservices: ["{SERVICE}"]\ndefault: hold\n'
        "approval: {security_groups: {consumer_endpoint: {ports: [22]}}}\nrules: []\n"
    )
    policy = load_policy([second, first])

    opening = verify_accept(
        approved_claim(policy),
        connection(),
        policy,
        None,
        planning=False,
        approval=record(),
        now=NOW,
    )

    # Then the first by path counts, as for Decide (docs/policy.md, "approval")
    assert isinstance(opening, Opening)
    assert opening.spec is not None
    assert opening.spec.consumer_endpoint is not None
    assert opening.spec.consumer_endpoint.ports == [8443]


def test_an_approved_accept_under_a_policy_without_approval_groups_opens_no_group(
    policy: PolicySet,
) -> None:
    opening = verify_accept(
        approved_claim(policy),
        connection(),
        policy,
        None,
        planning=False,
        approval=record(),
        now=NOW,
    )

    assert isinstance(opening, Opening)
    assert opening.spec is None
