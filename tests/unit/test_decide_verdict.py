"""From an evaluation to what Decide does: state checks, hold expiry, the revocation two-step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acceptor.contract import Origin, RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.verdict import (
    NOTICE_LIFETIME,
    RevocationNotice,
    hold_limit,
    judge,
    notice_is_due,
    screen,
)
from acceptor.policy.evaluate import evaluate
from acceptor.policy.facts import Facts
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

pytestmark = pytest.mark.disable_socket

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def policy(*files: dict[str, Any]) -> PolicySet:
    return PolicySet.from_documents(
        PolicyDocument(f"policies/p{i}.yaml", PolicyFile.model_validate({"version": 1, **f}))
        for i, f in enumerate(files)
    )


def connection(state: str = "pendingAcceptance", age: timedelta = timedelta(0)) -> Connection:
    return Connection(SERVICE, ENDPOINT, "111122223333", "us-east-1", state, NOW - age)


def request(origin: Origin = "sweep", correlation_id: str = "sweep-2") -> RequestedDetail:
    return RequestedDetail(
        service_id=SERVICE,
        endpoint_id=ENDPOINT,
        account="111122223333",
        region="us-east-1",
        state="pendingAcceptance",
        created_at=NOW,
        origin=origin,
        correlation_id=correlation_id,
    )


def facts(**known: Any) -> Facts:
    return Facts(service_id=SERVICE, endpoint_id=ENDPOINT, account="111122223333", **known)


ACCEPT_PAYMENTS = {
    "name": "payments",
    "decision": "accept",
    "when": {"accounts": ["111122223333"]},
}
REJECT_PAYMENTS = {**ACCEPT_PAYMENTS, "name": "no-payments", "decision": "reject"}


def test_screen_leaves_a_connection_that_is_gone() -> None:
    verdict = screen(request(), None, policy({"services": ["*"]}))

    assert verdict is not None
    assert (verdict.decision, verdict.action) == ("ignore", "none")


@pytest.mark.parametrize("state", ["available", "pending", "rejected", "deleted", "failed"])
def test_screen_leaves_a_connection_that_is_no_longer_pending(state: str) -> None:
    verdict = screen(request(), connection(state), policy({"services": ["*"]}))

    assert verdict is not None
    assert verdict.decision == "ignore"
    assert state in verdict.reason


def test_screen_lets_a_pending_connection_through_to_the_policy() -> None:
    assert screen(request(), connection(), policy({"services": ["*"]})) is None


def test_screen_leaves_a_service_the_stack_does_not_manage() -> None:
    verdict = screen(
        request(), connection(), policy({"services": ["*"]}), frozenset({"vpce-svc-0b2c3d4e"})
    )

    assert verdict is not None
    assert verdict.decision == "ignore"
    assert "privatelink-acceptor:managed=true" in verdict.reason


def test_screen_with_no_managed_service_leaves_every_request() -> None:
    verdict = screen(request(), connection(), policy({"services": ["*"]}), frozenset())

    assert verdict is not None
    assert verdict.decision == "ignore"


def test_screen_revocation_check_of_a_pending_connection_is_left_alone() -> None:
    verdict = screen(request("revocation"), connection(), policy({"services": ["*"]}))

    assert verdict is not None
    assert verdict.decision == "ignore"


def test_screen_revocation_check_without_revoke_in_policy_is_left_alone() -> None:
    verdict = screen(request("revocation"), connection("available"), policy({"services": ["*"]}))

    assert verdict is not None
    assert "revoke: true" in verdict.reason


def test_screen_revocation_check_with_revoke_goes_to_the_policy() -> None:
    revoking = policy({"services": ["*"], "revoke": True})

    assert screen(request("revocation"), connection("available"), revoking) is None


@pytest.mark.parametrize(
    ("rules", "default", "decision", "action"),
    [
        ([ACCEPT_PAYMENTS], "hold", "accept", "accept"),
        ([REJECT_PAYMENTS], "accept", "reject", "reject"),
        ([], "hold", "hold", "none"),
    ],
)
def test_judge_acts_as_the_policy_decides(
    rules: list[dict[str, Any]], default: str, decision: str, action: str
) -> None:
    chosen = policy({"services": ["*"], "default": default, "rules": rules})

    verdict = judge(request(), connection(), evaluate(chosen, facts()), chosen, NOW)

    assert (verdict.decision, verdict.action) == (decision, action)


def test_judge_hold_older_than_expires_after_is_rejected() -> None:
    chosen = policy({"services": ["*"], "hold": {"expires_after": "72h"}})

    verdict = judge(
        request("hold-expired"),
        connection(age=timedelta(hours=73)),
        evaluate(chosen, facts()),
        chosen,
        NOW,
    )

    assert (verdict.decision, verdict.action) == ("reject", "reject")
    assert "hold.expires_after (3d" in verdict.reason


def test_judge_hold_younger_than_expires_after_stays_held() -> None:
    chosen = policy({"services": ["*"], "hold": {"expires_after": "72h"}})

    verdict = judge(
        request(), connection(age=timedelta(hours=71)), evaluate(chosen, facts()), chosen, NOW
    )

    assert verdict.decision == "hold"


def test_judge_expiry_never_touches_an_accept() -> None:
    chosen = policy(
        {"services": ["*"], "hold": {"expires_after": "1h"}, "rules": [ACCEPT_PAYMENTS]}
    )

    verdict = judge(
        request(), connection(age=timedelta(days=30)), evaluate(chosen, facts()), chosen, NOW
    )

    assert verdict.decision == "accept"


def test_hold_limit_is_the_shortest_of_the_governing_files() -> None:
    chosen = policy(
        {"services": ["*"], "hold": {"expires_after": "3d"}},
        {"services": [SERVICE], "hold": {"expires_after": "12h"}},
        {"services": ["vpce-svc-0b2c3d4e5f6a78901"], "hold": {"expires_after": "1h"}},
    )

    assert hold_limit(chosen, SERVICE) == (timedelta(hours=12), "policies/p1.yaml")
    assert hold_limit(policy({"services": ["*"]}), SERVICE) is None


REVOKING = {"services": ["*"], "revoke": True, "rules": [REJECT_PAYMENTS]}


def test_revocation_first_sweep_reports_and_does_not_act() -> None:
    chosen = policy(REVOKING)

    verdict = judge(
        request("revocation"), connection("available"), evaluate(chosen, facts()), chosen, NOW
    )

    assert (verdict.decision, verdict.action, verdict.revocation) == (
        "reject",
        "none",
        "reported",
    )
    assert verdict.reason.startswith("Would revoke")


def test_revocation_later_sweep_under_same_policy_enforces() -> None:
    chosen = policy(REVOKING)
    notice = RevocationNotice(NOW - timedelta(minutes=15), chosen.version_hash, "sweep-1")

    verdict = judge(
        request("revocation", "sweep-2"),
        connection("available"),
        evaluate(chosen, facts()),
        chosen,
        NOW,
        notice,
    )

    assert (verdict.action, verdict.revocation) == ("reject", "enforced")


def test_revocation_same_sweep_again_only_reports() -> None:
    chosen = policy(REVOKING)
    notice = RevocationNotice(NOW, chosen.version_hash, "sweep-2")

    verdict = judge(
        request("revocation", "sweep-2"),
        connection("available"),
        evaluate(chosen, facts()),
        chosen,
        NOW,
        notice,
    )

    assert verdict.revocation == "reported"


def test_revocation_of_a_still_allowed_connection_is_quiet() -> None:
    chosen = policy({"services": ["*"], "revoke": True, "rules": [ACCEPT_PAYMENTS]})

    verdict = judge(
        request("revocation"), connection("available"), evaluate(chosen, facts()), chosen, NOW
    )

    assert verdict.quiet
    assert verdict.action == "none"


def test_revocation_never_follows_a_hold_from_unknown_facts() -> None:
    reject_sandbox = {"name": "sandbox", "decision": "reject", "when": {"tags": {"env": "sandbox"}}}
    chosen = policy({"services": ["*"], "revoke": True, "rules": [reject_sandbox]})

    verdict = judge(
        request("revocation"), connection("available"), evaluate(chosen, facts()), chosen, NOW
    )

    assert verdict.decision == "hold"
    assert verdict.action == "none"


@pytest.mark.parametrize(
    ("notice", "due"),
    [
        (RevocationNotice(NOW - timedelta(minutes=15), "h1", "sweep-1"), True),
        (RevocationNotice(NOW - timedelta(minutes=15), "h0", "sweep-1"), False),
        (RevocationNotice(NOW - timedelta(minutes=15), "h1", "sweep-2"), False),
        (RevocationNotice(NOW - NOTICE_LIFETIME - timedelta(seconds=1), "h1", "sweep-1"), False),
        (RevocationNotice(NOW + timedelta(minutes=5), "h1", "sweep-1"), False),
        (None, False),
    ],
)
def test_notice_is_due_only_from_an_earlier_sweep_same_policy_not_stale(
    notice: RevocationNotice | None, due: bool
) -> None:
    assert notice_is_due(notice, "h1", "sweep-2", NOW) is due
