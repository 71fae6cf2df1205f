"""The limit step (acceptor.policy.limits): it only ever turns an accept into the over_limit
decision, names the count and the limit, and never lets anything else become an accept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import SERVICE, FactsBuilder, PolicyBuilder
from hypothesis import given
from hypothesis import strategies as st
from test_properties import EXAMPLES, Files, facts_sets, named, policies, to_policy

from acceptor.policy.evaluate import evaluate
from acceptor.policy.limits import FileLimit, count_for, over_limit
from acceptor.policy.model import Limits
from acceptor_tools.policy_testing import decide

pytestmark = pytest.mark.disable_socket

ACCOUNT = "111122223333"
T0 = datetime(2025, 1, 1, 9, tzinfo=UTC)
T1 = datetime(2025, 1, 1, 10, tzinfo=UTC)
T2 = datetime(2025, 1, 1, 11, tzinfo=UTC)
ACCEPT_RULE = {"name": "payments", "decision": "accept", "when": {"accounts": [ACCOUNT]}}


def policy_with(make_policy: PolicyBuilder, **extra: Any) -> Any:
    body = {"version": 1, "services": [SERVICE], "default": "reject", "rules": [ACCEPT_RULE]}
    return make_policy(("policies/payments.yaml", {**body, **extra}))


def test_accept_within_the_limit_is_unchanged(
    make_policy: PolicyBuilder, make_facts: FactsBuilder
) -> None:
    policy = policy_with(make_policy, limits={"per_account": 3, "over_limit": "reject"})
    facts = make_facts(account=ACCOUNT)

    decided = decide(policy, facts, 3)

    assert decided.limited is None
    assert (decided.decision, decided.rule) == ("accept", "payments")


def test_accept_over_the_limit_is_decided_over_limit_naming_count_and_limit(
    make_policy: PolicyBuilder, make_facts: FactsBuilder
) -> None:
    policy = policy_with(make_policy, limits={"per_account": 3, "over_limit": "reject"})
    facts = make_facts(account=ACCOUNT)

    decided = decide(policy, facts, 4)

    assert decided.decision == "reject"
    assert decided.rule is None
    assert decided.limited is not None
    assert decided.limited.file == "policies/payments.yaml"
    assert decided.reason.startswith(
        f"Rejected: account {ACCOUNT} has 4 connections to {SERVICE} (this request included), "
        "over the limit of 3 per account set by policies/payments.yaml."
    )
    assert 'Without the limit: Accepted by rule "payments"' in decided.reason


def test_over_limit_hold_holds(make_policy: PolicyBuilder, make_facts: FactsBuilder) -> None:
    policy = policy_with(make_policy, limits={"per_account": 1, "over_limit": "hold"})

    decided = decide(policy, make_facts(account=ACCOUNT), 2)

    assert decided.decision == "hold"
    assert decided.reason.startswith("Held: account")


def test_default_accept_over_the_limit_is_limited_too(
    make_policy: PolicyBuilder, make_facts: FactsBuilder
) -> None:
    body = {"version": 1, "services": ["*"], "default": "accept"}
    policy = make_policy(("p.yaml", {**body, "limits": {"per_account": 1}}))

    decided = decide(policy, make_facts(), 2)

    assert decided.decision == "hold"


def test_unknown_count_holds_an_accept_that_a_limit_governs(
    make_policy: PolicyBuilder, make_facts: FactsBuilder
) -> None:
    policy = policy_with(make_policy, limits={"per_account": 5, "over_limit": "reject"})

    decided = decide(policy, make_facts(account=ACCOUNT), None)

    assert decided.decision == "hold"
    assert "is unknown" in decided.reason
    assert "limit of 5 per account" in decided.reason


@pytest.mark.parametrize("count", [None, 1, 100])
def test_reject_stays_reject_whatever_the_count(
    make_policy: PolicyBuilder, make_facts: FactsBuilder, count: int | None
) -> None:
    policy = policy_with(make_policy, limits={"per_account": 1, "over_limit": "hold"})
    facts = make_facts(account="444455556666")  # not on the list: the default rejects

    decided = decide(policy, facts, count)

    assert decided.limited is None
    assert (decided.decision, decided.reason) == ("reject", evaluate(policy, facts).reason)


def test_without_limits_the_count_does_not_matter(
    make_policy: PolicyBuilder, make_facts: FactsBuilder
) -> None:
    policy = policy_with(make_policy)
    facts = make_facts(account=ACCOUNT)

    plain = evaluate(policy, facts)

    for count in (1000, None):
        decided = decide(policy, facts, count)
        assert decided.limited is None
        assert (decided.decision, decided.reason) == (plain.decision, plain.reason)


def test_of_several_files_every_exceeded_limit_applies_and_the_most_restrictive_wins() -> None:
    limits = (
        FileLimit("a.yaml", per_account=3, over_limit="hold"),
        FileLimit("b.yaml", per_account=10, over_limit="reject"),
        FileLimit("c.yaml", per_account=5, over_limit="hold"),
    )

    def decided(count: int) -> tuple[str, str] | None:
        verdict = over_limit("accept", limits, count, account=ACCOUNT, service_id=SERVICE)
        return None if verdict is None else (verdict.decision, verdict.file)

    assert decided(3) is None
    # Only a.yaml's and c.yaml's limits are exceeded: the smallest names the hold.
    assert decided(6) == ("hold", "a.yaml")
    # b.yaml's limit too: reject wins.
    assert decided(11) == ("reject", "b.yaml")


@pytest.mark.parametrize("decision", ["reject", "hold", "ignore"])
def test_over_limit_never_changes_a_decision_that_is_not_accept(decision: Any) -> None:
    limits = (FileLimit("a.yaml", per_account=1, over_limit="reject"),)

    for count in (None, 1, 2, 50):
        assert over_limit(decision, limits, count, account=ACCOUNT, service_id=SERVICE) is None


@dataclass(frozen=True)
class _Connection:
    service_id: str
    account: str
    state: str
    endpoint_id: str
    created_at: datetime


def test_count_for_counts_accepted_ones_and_the_ones_requested_before_of_its_account() -> None:
    other_service = "vpce-svc-0fedcba9876543210"
    request = _Connection(SERVICE, ACCOUNT, "pendingAcceptance", "vpce-0000000000000000c", T1)
    listed = [
        request,
        _Connection(SERVICE, ACCOUNT, "available", "vpce-00000000000000001", T2),
        _Connection(SERVICE, ACCOUNT, "pending", "vpce-00000000000000002", T2),
        _Connection(SERVICE, ACCOUNT, "pendingAcceptance", "vpce-00000000000000003", T0),
        # The same time as the request: the smaller endpoint ID was requested first.
        _Connection(SERVICE, ACCOUNT, "pendingAcceptance", "vpce-0000000000000000b", T1),
        _Connection(SERVICE, ACCOUNT, "pendingAcceptance", "vpce-0000000000000000d", T1),
        _Connection(SERVICE, ACCOUNT, "pendingAcceptance", "vpce-00000000000000004", T2),
        _Connection(SERVICE, ACCOUNT, "rejected", "vpce-00000000000000005", T0),
        _Connection(SERVICE, ACCOUNT, "deleted", "vpce-00000000000000006", T0),
        _Connection(SERVICE, ACCOUNT, "failed", "vpce-00000000000000007", T0),
        _Connection(SERVICE, ACCOUNT, "expired", "vpce-00000000000000008", T0),
        _Connection(SERVICE, "444455556666", "available", "vpce-00000000000000009", T0),
        _Connection(other_service, ACCOUNT, "available", "vpce-0000000000000000a", T0),
    ]

    # Itself, available, pending, the one requested at T0 and the one with the smaller ID.
    assert count_for(request, listed) == 5


def test_count_for_counts_the_request_when_the_listing_does_not_show_it() -> None:
    request = _Connection(SERVICE, ACCOUNT, "pendingAcceptance", "vpce-0000000000000000c", T1)

    assert count_for(request, []) == 1


def test_of_three_requested_at_once_under_a_limit_of_two_only_the_third_is_over() -> None:
    three = [
        _Connection(SERVICE, ACCOUNT, "pendingAcceptance", f"vpce-0000000000000000{n}", t)
        for n, t in ((1, T0), (2, T1), (3, T2))
    ]
    limits = (FileLimit("a.yaml", per_account=2, over_limit="hold"),)

    verdicts = [
        over_limit("accept", limits, count_for(one, three), account=ACCOUNT, service_id=SERVICE)
        for one in three
    ]

    assert [None if v is None else v.decision for v in verdicts] == [None, None, "hold"]


_limits = st.fixed_dictionaries(
    {"per_account": st.integers(1, 4), "over_limit": st.sampled_from(("hold", "reject"))}
)


@EXAMPLES
@given(
    files=policies,
    facts=facts_sets,
    added=st.lists(st.none() | _limits, min_size=3, max_size=3),
    count=st.none() | st.integers(1, 6),
)
def test_adding_a_limit_never_turns_a_non_accept_into_an_accept(
    make_policy: PolicyBuilder,
    files: Files,
    facts: Any,
    added: list[dict[str, Any] | None],
    count: int | None,
) -> None:
    files = named(files)
    plain = to_policy(make_policy, files)
    limited = to_policy(make_policy, files)
    documents = []
    for document, limits in zip(limited.documents, added, strict=False):
        if limits is not None:
            model = document.model.model_copy(update={"limits": Limits(**limits)})
            document = type(document)(document.path, model, document.rule_lines)
        documents.append(document)
    limited = type(limited).from_documents(documents)

    before = decide(plain, facts, count)
    after = decide(limited, facts, count)

    if before.decision != "accept":
        assert _meaning(after) == _meaning(before)
    assert after.decision in {before.decision, "hold", "reject"}
    if after.decision == "accept":
        assert before.decision == "accept"
        assert _meaning(after) == _meaning(before)


def _meaning(decision: Any) -> tuple[Any, ...]:
    """A decision without its policy hash (which limits change)."""
    assert decision.evaluation is not None
    data: dict[str, Any] = decision.evaluation.to_dict()
    del data["policy_hash"]
    return (decision.decision, decision.rule, decision.reason, data)
