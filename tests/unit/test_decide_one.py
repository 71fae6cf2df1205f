"""`decide_one`, where a decision is made: screening, evaluation, hold expiry, the revocation
two-step and the per-account limit seam."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acceptor.contract import Origin, RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.decide_one import NOT_COUNTED, Decision, NotCounted, decide_one
from acceptor.decision.gather import RequestFacts
from acceptor.decision.records import (
    NO_RECORDS,
    NOTICE_LIFETIME,
    Records,
    RevocationNotice,
    notice_is_due,
)
from acceptor.policy.facts import Facts
from acceptor.policy.index import HoldLimit
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


def decide(
    req: RequestedDetail,
    conn: Connection | None,
    chosen: PolicySet,
    notice: RevocationNotice | None = None,
    *,
    managed: frozenset[str] | None = None,
    connections: int | NotCounted | None = NOT_COUNTED,
) -> Decision:
    records = NO_RECORDS if notice is None else Records(notice=notice)
    gathered = RequestFacts(facts())
    return decide_one(
        req, conn, gathered, records, chosen, NOW, managed=managed, connections=connections
    )


ACCEPT_PAYMENTS = {
    "name": "payments",
    "decision": "accept",
    "when": {"accounts": ["111122223333"]},
}
REJECT_PAYMENTS = {**ACCEPT_PAYMENTS, "name": "no-payments", "decision": "reject"}


def test_screen_leaves_a_connection_that_is_gone() -> None:
    verdict = decide(request(), None, policy({"services": ["*"]}))

    assert (verdict.decision, verdict.action) == ("ignore", "none")


@pytest.mark.parametrize("state", ["available", "pending", "rejected", "deleted", "failed"])
def test_screen_leaves_a_connection_that_is_no_longer_pending(state: str) -> None:
    verdict = decide(request(), connection(state), policy({"services": ["*"]}))

    assert verdict.decision == "ignore"
    assert state in verdict.reason


def test_screen_lets_a_pending_connection_through_to_the_policy() -> None:
    decided = decide(request(), connection(), policy({"services": ["*"]}))

    assert decided.evaluation is not None
    assert decided.decision == "hold"


def test_screen_leaves_a_service_the_stack_does_not_manage() -> None:
    verdict = decide(
        request(),
        connection(),
        policy({"services": ["*"]}),
        managed=frozenset({"vpce-svc-0b2c3d4e"}),
    )

    assert verdict.decision == "ignore"
    assert "privatelink-acceptor:managed=true" in verdict.reason


def test_screen_with_no_managed_service_leaves_every_request() -> None:
    verdict = decide(request(), connection(), policy({"services": ["*"]}), managed=frozenset())

    assert verdict.decision == "ignore"


def test_screen_revocation_check_of_a_pending_connection_is_left_alone() -> None:
    verdict = decide(request("revocation"), connection(), policy({"services": ["*"]}))

    assert verdict.decision == "ignore"


def test_screen_revocation_check_without_revoke_in_policy_is_left_alone() -> None:
    verdict = decide(request("revocation"), connection("available"), policy({"services": ["*"]}))

    assert "revoke: true" in verdict.reason


def test_screen_revocation_check_with_revoke_goes_to_the_policy() -> None:
    revoking = policy({"services": ["*"], "revoke": True})

    decided = decide(request("revocation"), connection("available"), revoking)

    assert decided.evaluation is not None
    assert decided.quiet


@pytest.mark.parametrize(
    ("rules", "default", "decision", "action"),
    [
        ([ACCEPT_PAYMENTS], "hold", "accept", "accept"),
        ([REJECT_PAYMENTS], "accept", "reject", "reject"),
        ([], "hold", "hold", "none"),
    ],
)
def test_decide_acts_as_the_policy_decides(
    rules: list[dict[str, Any]], default: str, decision: str, action: str
) -> None:
    chosen = policy({"services": ["*"], "default": default, "rules": rules})

    verdict = decide(request(), connection(), chosen)

    assert (verdict.decision, verdict.action) == (decision, action)


def test_decide_hold_older_than_expires_after_is_rejected() -> None:
    chosen = policy({"services": ["*"], "hold": {"expires_after": "72h"}})

    verdict = decide(request("hold-expired"), connection(age=timedelta(hours=73)), chosen)

    assert (verdict.decision, verdict.action) == ("reject", "reject")
    assert "hold.expires_after (3d" in verdict.reason


def test_decide_hold_younger_than_expires_after_stays_held() -> None:
    chosen = policy({"services": ["*"], "hold": {"expires_after": "72h"}})

    verdict = decide(request(), connection(age=timedelta(hours=71)), chosen)

    assert verdict.decision == "hold"


def test_decide_expiry_never_touches_an_accept() -> None:
    chosen = policy(
        {"services": ["*"], "hold": {"expires_after": "1h"}, "rules": [ACCEPT_PAYMENTS]}
    )

    verdict = decide(request(), connection(age=timedelta(days=30)), chosen)

    assert verdict.decision == "accept"


def test_hold_limit_is_the_shortest_of_the_governing_files() -> None:
    chosen = policy(
        {"services": ["*"], "hold": {"expires_after": "3d"}},
        {"services": [SERVICE], "hold": {"expires_after": "12h"}},
        {"services": ["vpce-svc-0b2c3d4e5f6a78901"], "hold": {"expires_after": "1h"}},
    )

    assert chosen.compiled.plan(SERVICE).hold_limit == HoldLimit(
        timedelta(hours=12), "policies/p1.yaml"
    )
    assert policy({"services": ["*"]}).compiled.plan(SERVICE).hold_limit is None


REVOKING = {"services": ["*"], "revoke": True, "rules": [REJECT_PAYMENTS]}


def test_revocation_first_sweep_reports_and_does_not_act() -> None:
    chosen = policy(REVOKING)

    verdict = decide(request("revocation"), connection("available"), chosen)

    assert (verdict.decision, verdict.action, verdict.revocation) == (
        "reject",
        "none",
        "reported",
    )
    assert verdict.reason.startswith("Would revoke")


def test_revocation_later_sweep_under_same_policy_enforces() -> None:
    chosen = policy(REVOKING)
    notice = RevocationNotice(NOW - timedelta(minutes=15), chosen.version_hash, "sweep-1")

    verdict = decide(request("revocation", "sweep-2"), connection("available"), chosen, notice)

    assert (verdict.action, verdict.revocation) == ("reject", "enforced")


def test_revocation_same_sweep_again_only_reports() -> None:
    chosen = policy(REVOKING)
    notice = RevocationNotice(NOW, chosen.version_hash, "sweep-2")

    verdict = decide(request("revocation", "sweep-2"), connection("available"), chosen, notice)

    assert verdict.revocation == "reported"


def test_revocation_of_a_still_allowed_connection_is_quiet() -> None:
    chosen = policy({"services": ["*"], "revoke": True, "rules": [ACCEPT_PAYMENTS]})

    verdict = decide(request("revocation"), connection("available"), chosen)

    assert verdict.quiet
    assert verdict.action == "none"


def test_revocation_never_follows_a_hold_from_unknown_facts() -> None:
    reject_sandbox = {"name": "sandbox", "decision": "reject", "when": {"tags": {"env": "sandbox"}}}
    chosen = policy({"services": ["*"], "revoke": True, "rules": [reject_sandbox]})

    verdict = decide(request("revocation"), connection("available"), chosen)

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


def test_decide_hold_that_can_expire_says_when() -> None:
    chosen = policy(
        {"services": ["*"], "hold": {"expires_after": "3d"}},
        {"services": [SERVICE], "hold": {"expires_after": "12h"}},
    )

    decided = decide(request(), connection(age=timedelta(hours=2)), chosen)

    assert decided.decision == "hold"
    assert decided.hold_expires_at == NOW + timedelta(hours=10)


def test_decide_hold_without_expires_after_never_expires() -> None:
    decided = decide(request(), connection(age=timedelta(days=400)), policy({"services": ["*"]}))

    assert (decided.decision, decided.hold_expires_at) == ("hold", None)


def test_decide_accept_carries_the_rules_channels_and_security_groups() -> None:
    groups = {"consumer_endpoint": {"ports": [443]}}
    accept = {**ACCEPT_PAYMENTS, "notify": ["ops"], "security_groups": groups}
    chosen = policy(
        {
            "services": ["*"],
            "notify": ["audit"],
            "rules": [accept],
            "notifications": {"ops": {"type": "sns"}, "audit": {"type": "sns"}},
        }
    )

    decided = decide(request(), connection(), chosen)

    assert (decided.decision, decided.rule) == ("accept", "payments")
    assert decided.notify == ("audit", "ops")
    assert decided.security_groups is not None
    assert json.loads(decided.security_groups) == {
        "consumer_endpoint": {"ports": [443], "allow_shared_groups": False}
    }


def limited(over_limit: str = "hold", **more: Any) -> PolicySet:
    limits = {"per_account": 3, "over_limit": over_limit}
    return policy({"services": ["*"], "limits": limits, "rules": [ACCEPT_PAYMENTS], **more})


def test_limit_within_the_limit_lets_an_accept_stand() -> None:
    decided = decide(request(), connection(), limited(), connections=3)

    assert (decided.decision, decided.action, decided.rule) == ("accept", "accept", "payments")


@pytest.mark.parametrize(("over_limit", "action"), [("hold", "none"), ("reject", "reject")])
def test_limit_exceeded_turns_an_accept_into_the_over_limit_decision(
    over_limit: str, action: str
) -> None:
    decided = decide(request(), connection(), limited(over_limit), connections=4)

    assert (decided.decision, decided.action) == (over_limit, action)
    assert "over the limit of 3 per account set by policies/p0.yaml" in decided.reason
    assert decided.rule is None
    assert decided.limited is not None


def test_limit_with_an_unknown_count_holds_an_accept() -> None:
    decided = decide(request(), connection(), limited("reject"), connections=None)

    assert (decided.decision, decided.action) == ("hold", "none")


def test_limit_never_changes_a_reject_or_a_hold() -> None:
    limits = {"per_account": 1, "over_limit": "hold"}
    rejecting = policy({"services": ["*"], "limits": limits, "rules": [REJECT_PAYMENTS]})
    holding = policy({"services": ["*"], "limits": {**limits, "over_limit": "reject"}})

    rejected = decide(request(), connection(), rejecting, connections=9)
    held = decide(request(), connection(), holding, connections=9)

    assert (rejected.decision, held.decision) == ("reject", "hold")
    assert (rejected.limited, held.limited) == (None, None)


def test_limit_step_is_left_out_when_decide_did_not_count() -> None:
    decided = decide(request(), connection(), limited("reject"))

    assert decided.decision == "accept"


def test_limit_hold_expires_like_any_other_hold() -> None:
    chosen = limited(hold={"expires_after": "1h"})

    decided = decide(request(), connection(age=timedelta(hours=2)), chosen, connections=5)

    assert (decided.decision, decided.action) == ("reject", "reject")
    assert "hold.expires_after" in decided.reason


def test_decide_without_the_facts_of_a_request_it_must_evaluate_refuses() -> None:
    chosen = policy({"services": ["*"], "rules": [ACCEPT_PAYMENTS]})

    with pytest.raises(ValueError, match="needs the facts"):
        decide_one(request(), connection(), None, NO_RECORDS, chosen, NOW)
