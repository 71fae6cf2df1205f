"""The lookup tables behind the evaluator: it checks only the rules that can match, lists the
matched and unknown ones and counts the others."""

from __future__ import annotations

from typing import Any

from acceptor.policy.evaluate import evaluate
from oracle import evaluate_naive

SERVICE = "vpce-svc-0123456789abcdef0"


def account(number: int) -> str:
    return f"{100000000000 + number:012d}"


def many_rules(count: int) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "name": f"allow-{n}",
            "decision": "accept",
            "when": {"accounts": [account(n)], "tags": {"env": "prod"}},
        }
        for n in range(count)
    ]
    rules.append(
        {"name": "no-sandboxes", "decision": "reject", "when": {"tags": {"env": "sandbox"}}}
    )
    return {"version": 1, "services": [SERVICE], "default": "hold", "rules": rules}


def test_index_offers_only_rules_whose_anchor_holds(make_policy: Any, make_facts: Any) -> None:
    policy = make_policy(("big.yaml", many_rules(500)))
    plan = policy.compiled.plan(SERVICE)
    facts = make_facts(account=account(42), tags={"env": "prod"})

    offered = plan.lookup(facts.unknown).candidates(facts)

    assert [entry[3].name for entry in offered] == ["allow-42"]


def test_rule_over_only_unknown_facts_is_unknown_without_being_checked(
    make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("big.yaml", many_rules(500)))
    facts = make_facts(account=account(7), tags=None)

    lookup = policy.compiled.plan(SERVICE).lookup(facts.unknown)
    result = evaluate(policy, facts)

    assert [entry[3].name for entry in lookup.candidates(facts)] == ["allow-7"]
    assert lookup.first_always_unknown["reject"][0].name == "no-sandboxes"
    assert (result.decision, result.rule, result.missing_facts) == (
        "hold",
        "no-sandboxes",
        ("tags",),
    )
    assert [o.name for o in result.rules] == ["allow-7", "no-sandboxes"]
    assert result.unmatched == 499
    assert result.to_dict() == evaluate_naive(policy, facts).to_dict()


def test_multi_key_tag_anchor_still_checks_the_other_keys(
    make_policy: Any, make_facts: Any
) -> None:
    both = {"tags": {"env": "prod", "team": "payments"}}
    policy = make_policy(
        (
            "p.yaml",
            {
                "version": 1,
                "services": [SERVICE],
                "rules": [{"name": "prod-payments", "decision": "accept", "when": both}],
            },
        )
    )

    result = evaluate(policy, make_facts(tags={"env": "prod", "team": "search"}))

    assert (result.decision, result.rules, result.unmatched) == ("hold", (), 1)
