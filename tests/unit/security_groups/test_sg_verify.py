"""What a Decided or State Changed event may make SecurityGroups do, judged on re-read facts
(docs/security-groups.md, "What an event may make it do"). A forged or stale event opens
nothing: every fact it names must be borne out by the re-read connection and the bundled
policy, and the ports come from the policy's rule, never from the event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

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
