"""The index behind the evaluator: it checks only the rules that can match, and still reports
every governing rule."""

from __future__ import annotations

from typing import Any

from acceptor.policy.evaluate import Evaluator, evaluate_naive

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
    plan = Evaluator(policy).plan(SERVICE)
    facts = make_facts(account=account(42), tags={"env": "prod"})

    offered = plan.lookup(facts.unknown).candidates(facts)

    assert [entry[3].name for entry in offered] == ["allow-42"]


def test_rule_over_only_unknown_facts_is_unknown_without_being_checked(
    make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("big.yaml", many_rules(500)))
    evaluator = Evaluator(policy)
    facts = make_facts(account=account(7), tags=None)

    lookup = evaluator.plan(SERVICE).lookup(facts.unknown)
    result = evaluator.evaluate(facts)

    assert [entry[3].name for entry in lookup.candidates(facts)] == ["allow-7"]
    assert lookup.first_always_unknown["reject"].name == "no-sandboxes"
    assert (result.decision, result.rule, result.missing_facts) == (
        "hold",
        "no-sandboxes",
        ("tags",),
    )
    assert len(result.rules) == 501
    assert [o.name for o in result.rules if o.status != "unmatched"] == ["allow-7", "no-sandboxes"]
    assert result == evaluate_naive(policy, facts)


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

    result = Evaluator(policy).evaluate(make_facts(tags={"env": "prod", "team": "search"}))

    assert (result.decision, result.rules[0].status) == ("hold", "unmatched")
