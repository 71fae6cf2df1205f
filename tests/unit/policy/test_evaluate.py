"""The decision engine against docs/architecture.md, "Policy semantics and the decision order":
every condition kind, every step of the decision order, unknown facts, scoping across files, and
what a decision says about itself.

Every test runs twice: through the compiled evaluator and through the naive oracle scan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from acceptor.policy.conditions import CONDITIONS, UnsupportedCondition, kind_of
from acceptor.policy.evaluate import Evaluation, evaluate
from acceptor.policy.facts import Facts
from acceptor.policy.model import Conditions
from acceptor.policy.policy_set import PolicySet
from oracle import evaluate_naive

SERVICE = "vpce-svc-0123456789abcdef0"
OTHER_SERVICE = "vpce-svc-0fedcba9876543210"
ACCOUNT = "111122223333"
VPC = "vpc-0a1b2c3d4e5f67890"
ENDPOINT = "vpce-0123456789abcdef0"
OU_PARENT = "ou-ab12-11111111"
OU_CHILD = "ou-ab12-22222222"

Decide = Callable[[PolicySet, Facts], Evaluation]


def rule(name: str, decision: str, **when: Any) -> dict[str, Any]:
    return {"name": name, "decision": decision, "when": when}


def policy_file(
    *rules: dict[str, Any], default: str = "hold", services: tuple[str, ...] = (SERVICE,)
) -> dict[str, Any]:
    return {"version": 1, "services": list(services), "default": default, "rules": list(rules)}


@pytest.fixture(params=[evaluate, evaluate_naive], ids=["indexed", "naive"])
def decide(request: pytest.FixtureRequest) -> Decide:
    chosen: Decide = request.param
    return chosen


def statuses(evaluation: Evaluation) -> dict[str, str]:
    """Every governing rule's status: the listed ones, and the others unmatched."""
    listed = {outcome.name: outcome.status for outcome in evaluation.rules}
    if evaluation.plan is None:
        return listed
    return {rule.name: listed.get(rule.name, "unmatched") for rule in evaluation.plan.rules}


# --- condition kinds: (condition, facts that make it true, false, unknown) ----------------------

CONDITION_CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = {
    "accounts": ({"accounts": [ACCOUNT]}, {"account": ACCOUNT}, {}, "account"),
    "regions": ({"regions": ["us-east-1"]}, {"region": "us-east-1"}, {}, "region"),
    "vpcs": ({"vpcs": [VPC]}, {"vpc_id": VPC}, {}, "vpc_id"),
    "endpoints": ({"endpoints": [ENDPOINT]}, {"endpoint_id": ENDPOINT}, {}, "endpoint_id"),
    "organizational_units": (
        {"organizational_units": [OU_PARENT]},
        {"ou_path": ("r-ab12", OU_PARENT)},
        {},
        "ou_path",
    ),
    "tags": ({"tags": {"env": "prod"}}, {"tags": {"env": "prod"}}, {}, "tags"),
    "vpc_tags": (
        {"vpc_tags": {"tier": "private"}},
        {"vpc_tags": {"tier": "private"}},
        {},
        "vpc_tags",
    ),
}


def test_condition_table_covers_every_condition_of_the_model() -> None:
    assert set(CONDITIONS) == set(Conditions.model_fields)
    assert set(CONDITION_CASES) == set(CONDITIONS)


def test_unsupported_condition_kind_refuses_to_decide() -> None:
    with pytest.raises(UnsupportedCondition, match="colour"):
        kind_of("colour")


@pytest.mark.parametrize("kind", sorted(CONDITION_CASES))
def test_condition_true_for_known_fact_matches_rule(
    kind: str, decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    condition, true_facts, _, _ = CONDITION_CASES[kind]
    policy = make_policy(("p.yaml", policy_file(rule("r", "accept", **condition))))

    result = decide(policy, make_facts(**true_facts))

    assert (result.decision, result.rule, statuses(result)) == ("accept", "r", {"r": "matched"})
    assert result.missing_facts == ()


@pytest.mark.parametrize("kind", sorted(CONDITION_CASES))
def test_condition_false_for_known_fact_leaves_rule_unmatched(
    kind: str, decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    condition, _, false_facts, _ = CONDITION_CASES[kind]
    policy = make_policy(("p.yaml", policy_file(rule("r", "accept", **condition))))

    result = decide(policy, make_facts(**false_facts))

    assert (result.decision, result.rule, statuses(result)) == ("hold", None, {"r": "unmatched"})


@pytest.mark.parametrize("kind", sorted(CONDITION_CASES))
def test_condition_over_unknown_fact_is_unknown_and_never_accepts(
    kind: str, decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    condition, _, _, fact = CONDITION_CASES[kind]
    policy = make_policy(("p.yaml", policy_file(rule("r", "accept", **condition))))

    result = decide(policy, make_facts(**{fact: None}))

    assert (result.decision, statuses(result)) == ("hold", {"r": "unknown"})
    assert result.missing_facts == (fact,)
    assert result.rules[0].unknown_facts == (fact,)


@pytest.mark.parametrize(
    ("condition", "tags", "status"),
    [
        ({"env": "prod", "team": "payments"}, {"env": "prod"}, "unmatched"),
        ({"env": "prod", "team": "payments"}, {"env": "prod", "team": "payments"}, "matched"),
        ({"team": ["payments", "risk"]}, {"team": "risk"}, "matched"),
        ({"team": ["payments", "risk"]}, {"team": "ops"}, "unmatched"),
        ({"owner": "*"}, {"owner": "anyone at all"}, "matched"),
        ({"owner": "*"}, {"env": "prod"}, "unmatched"),
        ({"owner": ["*"]}, {"owner": ""}, "matched"),
        ({"env": "prod"}, {"env": "Prod"}, "unmatched"),
        ({"env": "prod"}, {"Env": "prod"}, "unmatched"),
        ({"env": "prod"}, {}, "unmatched"),
        ({"env": "prod"}, None, "unknown"),
    ],
    ids=[
        "every-listed-key-required",
        "all-keys-present",
        "any-listed-value",
        "unlisted-value",
        "star-any-value",
        "star-still-needs-key",
        "star-in-list",
        "values-case-sensitive",
        "keys-case-sensitive",
        "known-no-tags",
        "unknown-tags",
    ],
)
def test_tags_condition_semantics(
    condition: dict[str, Any],
    tags: dict[str, str] | None,
    status: str,
    decide: Decide,
    make_policy: Any,
    make_facts: Any,
) -> None:
    policy = make_policy(("p.yaml", policy_file(rule("r", "accept", tags=condition))))

    assert statuses(decide(policy, make_facts(tags=tags))) == {"r": status}


@pytest.mark.parametrize(
    ("ou_path", "status"),
    [
        (("r-ab12", OU_PARENT), "matched"),
        (("r-ab12", OU_PARENT, OU_CHILD), "matched"),
        (("r-ab12", OU_CHILD), "unmatched"),
        (("r-ab12",), "unmatched"),
        (None, "unknown"),
    ],
    ids=["directly-in-ou", "below-ou", "sibling-ou", "at-root", "unknown-path"],
)
def test_organizational_unit_condition_holds_in_the_ou_or_below(
    ou_path: tuple[str, ...] | None, status: str, decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("p.yaml", policy_file(rule("r", "accept", organizational_units=[OU_PARENT])))
    )

    assert statuses(decide(policy, make_facts(ou_path=ou_path))) == {"r": status}


def test_list_condition_matches_any_listed_account(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("p.yaml", policy_file(rule("r", "accept", accounts=["444455556666", ACCOUNT])))
    )

    assert decide(policy, make_facts(account=ACCOUNT)).decision == "accept"


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        ({"account": ACCOUNT, "region": "us-east-1", "tags": {"env": "prod"}}, "matched"),
        ({"account": ACCOUNT, "region": "eu-west-1", "tags": {"env": "prod"}}, "unmatched"),
        ({"account": ACCOUNT, "region": "us-east-1", "tags": None}, "unknown"),
        ({"account": "444455556666", "region": "us-east-1", "tags": None}, "unmatched"),
        ({"account": ACCOUNT, "region": "us-east-1", "tags": {"env": "dev"}}, "unmatched"),
    ],
    ids=["all-true", "one-false", "true-and-unknown", "false-and-unknown", "tags-false"],
)
def test_conditions_combine_with_three_valued_and(
    facts: dict[str, Any], status: str, decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    when = {"accounts": [ACCOUNT], "regions": ["us-east-1"], "tags": {"env": "prod"}}
    policy = make_policy(("p.yaml", policy_file(rule("r", "accept", **when))))

    assert statuses(decide(policy, make_facts(**facts))) == {"r": status}


# --- the decision order ---------------------------------------------------------------------

ALLOW = rule("allow-account", "accept", accounts=[ACCOUNT])
NO_SANDBOXES = rule("no-sandboxes", "reject", tags={"env": "sandbox"})
QUARANTINE = rule("quarantine", "hold", vpc_tags={"quarantine": "*"})


def test_decide_matched_reject_rule_rejects_even_when_accept_rule_matches(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW, NO_SANDBOXES)))

    result = decide(policy, make_facts(account=ACCOUNT, tags={"env": "sandbox"}))

    assert (result.decision, result.rule) == ("reject", "no-sandboxes")


def test_decide_reject_rule_with_unknown_tags_holds(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW, NO_SANDBOXES, default="accept")))

    result = decide(policy, make_facts(account=ACCOUNT, tags=None))

    assert (result.decision, result.rule, result.missing_facts) == (
        "hold",
        "no-sandboxes",
        ("tags",),
    )


def test_decide_matched_reject_wins_over_unknown_reject(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    unknown_reject = rule("no-untagged-vpcs", "reject", vpc_tags={"tier": "public"})
    blocked = rule("blocked-account", "reject", accounts=[ACCOUNT])
    policy = make_policy(("p.yaml", policy_file(unknown_reject, blocked)))

    result = decide(policy, make_facts(account=ACCOUNT, vpc_tags=None))

    assert (result.decision, result.rule) == ("reject", "blocked-account")
    assert result.missing_facts == ("vpc_tags",)


@pytest.mark.parametrize(
    ("vpc_tags", "status"), [({"quarantine": "yes"}, "matched"), (None, "unknown")]
)
def test_decide_hold_rule_matched_or_unknown_holds_over_matched_accept(
    vpc_tags: dict[str, str] | None,
    status: str,
    decide: Decide,
    make_policy: Any,
    make_facts: Any,
) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW, QUARANTINE, default="accept")))

    result = decide(policy, make_facts(account=ACCOUNT, vpc_tags=vpc_tags))

    assert (result.decision, result.rule) == ("hold", "quarantine")
    assert statuses(result)["quarantine"] == status


def test_decide_matched_hold_rule_is_named_before_an_earlier_unknown_one(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    unsure = rule("maybe-quarantined", "hold", tags={"quarantine": "*"})
    sure = rule("new-accounts", "hold", accounts=[ACCOUNT])
    policy = make_policy(("p.yaml", policy_file(unsure, sure)))

    result = decide(policy, make_facts(account=ACCOUNT, tags=None))

    assert (result.decision, result.rule) == ("hold", "new-accounts")


def test_decide_matched_accept_rule_accepts(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW, NO_SANDBOXES, QUARANTINE, default="reject")))

    result = decide(policy, make_facts(account=ACCOUNT, tags={"env": "prod"}))

    assert (result.decision, result.rule, result.file) == ("accept", "allow-account", "p.yaml")
    assert statuses(result) == {
        "allow-account": "matched",
        "no-sandboxes": "unmatched",
        "quarantine": "unmatched",
    }


@pytest.mark.parametrize("default", ["accept", "reject", "hold"])
def test_decide_no_rule_matches_uses_the_file_default(
    default: str, decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW, NO_SANDBOXES, default=default)))

    result = decide(policy, make_facts(account="444455556666", tags={"env": "prod"}))

    assert (result.decision, result.rule, result.file) == (default, None, "p.yaml")
    assert result.reason == f"No rule matched, so the default of p.yaml applies: {default}."


def test_decide_file_without_rules_uses_its_default(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("p.yaml", policy_file(default="reject")))

    result = decide(policy, make_facts())

    assert (result.decision, result.rules) == ("reject", ())


def test_decide_unknown_accept_rule_falls_back_to_default_and_names_missing_facts(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    prod_vpc = rule("prod-vpc", "accept", accounts=[ACCOUNT], vpcs=[VPC])
    policy = make_policy(("p.yaml", policy_file(prod_vpc, default="hold")))

    result = decide(policy, make_facts(account=ACCOUNT, vpc_id=None))

    assert (result.decision, result.rule, result.missing_facts) == ("hold", None, ("vpc_id",))
    assert result.reason == (
        'No rule matched and accept rule "prod-vpc" (p.yaml:10) cannot be confirmed because '
        "vpc_id is unknown (no consumer role configured), so the default of p.yaml applies: hold."
    )


def test_decide_unknown_accept_rule_under_default_accept_accepts_by_default(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    prod_vpc = rule("prod-vpc", "accept", vpcs=[VPC])
    policy = make_policy(("p.yaml", policy_file(prod_vpc, default="accept")))

    result = decide(policy, make_facts(vpc_id=None))

    assert (result.decision, result.rule) == ("accept", None)


# --- scoping across files -------------------------------------------------------------------


def test_rules_of_a_file_for_another_service_do_not_apply(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("a.yaml", policy_file(ALLOW, default="accept")),
        ("b.yaml", policy_file(NO_SANDBOXES, services=(OTHER_SERVICE,))),
    )

    result = decide(policy, make_facts(account=ACCOUNT, tags={"env": "sandbox"}))

    assert (result.decision, result.files) == ("accept", ("a.yaml",))
    assert [outcome.name for outcome in result.rules] == ["allow-account"]


def test_star_services_file_governs_every_service(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("all.yaml", policy_file(NO_SANDBOXES, services=("*",))))

    result = decide(policy, make_facts(service_id=OTHER_SERVICE, tags={"env": "sandbox"}))

    assert (result.decision, result.files) == ("reject", ("all.yaml",))


def test_reject_rule_of_one_file_overrides_accept_rule_of_another(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("a.yaml", policy_file(ALLOW)),
        ("z.yaml", policy_file(NO_SANDBOXES, services=("*",))),
    )

    result = decide(policy, make_facts(account=ACCOUNT, tags={"env": "sandbox"}))

    assert (result.decision, result.rule, result.file) == ("reject", "no-sandboxes", "z.yaml")


@pytest.mark.parametrize(
    ("defaults", "expected", "setter"),
    [
        (("accept", "hold"), "hold", "b.yaml"),
        (("reject", "hold"), "reject", "a.yaml"),
        (("accept", "reject"), "reject", "b.yaml"),
        (("accept", "accept"), "accept", "a.yaml"),
        (("hold", "hold"), "hold", "a.yaml"),
    ],
)
def test_most_restrictive_default_of_governing_files_wins(
    defaults: tuple[str, str],
    expected: str,
    setter: str,
    decide: Decide,
    make_policy: Any,
    make_facts: Any,
) -> None:
    policy = make_policy(
        ("a.yaml", policy_file(default=defaults[0])),
        ("b.yaml", policy_file(default=defaults[1], services=("*",))),
    )

    result = decide(policy, make_facts())

    assert (result.decision, result.file) == (expected, setter)
    assert result.reason == (
        "No rule matched, so the most restrictive default of the 2 governing files applies: "
        f"{expected}, set by {setter}."
    )


def test_default_of_a_file_for_another_service_does_not_count(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("a.yaml", policy_file(default="accept")),
        ("b.yaml", policy_file(default="reject", services=(OTHER_SERVICE,))),
    )

    assert decide(policy, make_facts()).decision == "accept"


def test_service_no_file_governs_is_ignored(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("a.yaml", policy_file(ALLOW, default="accept")))

    result = decide(policy, make_facts(service_id=OTHER_SERVICE, account=ACCOUNT))

    assert (result.decision, result.rule, result.file) == ("ignore", None, None)
    assert (result.rules, result.files, result.missing_facts) == ((), (), ())
    assert OTHER_SERVICE in result.reason


# --- what a decision says ---------------------------------------------------------------------


def test_reason_of_matched_rule_names_rule_file_and_line(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("policies/p.yaml", policy_file(ALLOW, NO_SANDBOXES)))

    result = decide(policy, make_facts(tags={"env": "sandbox"}))

    assert result.reason == (
        'Rejected by rule "no-sandboxes" (policies/p.yaml:15): all of its conditions hold.'
    )


def test_reason_of_unknown_reject_names_the_facts_and_why_they_are_unknown(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    public = rule("no-public-vpcs", "reject", tags={"env": "*"}, vpc_tags={"tier": "public"})
    policy = make_policy(("p.yaml", policy_file(public, ALLOW)))

    result = decide(
        policy,
        make_facts(
            tags=None,
            vpc_tags=None,
            ou_path=None,
            reasons={"ou_path": "no Organizations access"},
        ),
    )

    assert result.reason == (
        'Held: reject rule "no-public-vpcs" (p.yaml:10) cannot be ruled out because tags and '
        "vpc_tags are unknown (no consumer role configured)."
    )
    assert result.missing_facts == ("tags", "vpc_tags")


def test_reason_groups_unknown_facts_by_their_reasons(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    watched = rule("watched", "hold", organizational_units=[OU_PARENT], vpcs=[VPC])
    policy = make_policy(("p.yaml", policy_file(watched)))

    result = decide(
        policy,
        make_facts(vpc_id=None, ou_path=None, reasons={"ou_path": "no Organizations access"}),
    )

    assert result.reason == (
        'Held: hold rule "watched" (p.yaml:10) may apply because ou_path is unknown '
        "(no Organizations access) and vpc_id is unknown (no consumer role configured)."
    )


def test_missing_facts_collects_unknown_facts_of_every_unknown_rule_sorted(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    rules = (
        rule("by-vpc", "accept", vpcs=[VPC]),
        rule("by-ou", "accept", organizational_units=[OU_PARENT]),
        rule("by-region", "accept", regions=["us-east-1"], vpc_tags={"tier": "private"}),
    )
    policy = make_policy(("p.yaml", policy_file(*rules)))

    result = decide(
        policy, make_facts(region="eu-west-1", vpc_id=None, vpc_tags=None, ou_path=None)
    )

    assert result.missing_facts == ("ou_path", "vpc_id")
    assert statuses(result) == {"by-vpc": "unknown", "by-ou": "unknown", "by-region": "unmatched"}


def test_rule_outcomes_list_matched_and_unknown_rules_in_file_then_rule_order(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("b.yaml", policy_file(NO_SANDBOXES, QUARANTINE)),
        ("a.yaml", policy_file(ALLOW)),
    )

    result = decide(policy, make_facts(account=ACCOUNT, vpc_tags=None))

    assert [
        (o.name, o.decision, o.status, o.file, o.line, o.unknown_facts) for o in result.rules
    ] == [
        ("allow-account", "accept", "matched", "a.yaml", 10, ()),
        ("quarantine", "hold", "unknown", "b.yaml", 15, ("vpc_tags",)),
    ]
    assert result.unmatched == 1


def test_to_dict_gives_the_json_of_design(
    decide: Decide, make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW, NO_SANDBOXES)))

    result = decide(policy, make_facts(account=ACCOUNT, tags=None))
    data = json.loads(json.dumps(result.to_dict()))

    assert data["decision"] == "hold"
    assert data["reason"] == result.reason
    assert data["missing_facts"] == ["tags"]
    assert [{k: r[k] for k in ("name", "decision", "status")} for r in data["rules"]] == [
        {"name": "allow-account", "decision": "accept", "status": "matched"},
        {"name": "no-sandboxes", "decision": "reject", "status": "unknown"},
    ]
    assert (data["rule"], data["file"], data["files"]) == ("no-sandboxes", "p.yaml", ["p.yaml"])
    assert data["policy_hash"] == policy.version_hash


def test_policy_set_is_compiled_once_per_service(make_policy: Any, make_facts: Any) -> None:
    policy = make_policy(("p.yaml", policy_file(ALLOW)))

    first = evaluate(policy, make_facts(account=ACCOUNT))
    again = evaluate(policy, make_facts(account="999900001111"))

    assert first.plan is not None
    assert first.plan is again.plan is policy.compiled.plan(SERVICE)
    assert (first.decision, again.decision) == ("accept", "hold")


def test_evaluator_answers_every_service_and_unknown_shape_it_has_seen(
    make_policy: Any, make_facts: Any
) -> None:
    policy = make_policy(
        ("a.yaml", policy_file(ALLOW, NO_SANDBOXES)),
        ("b.yaml", policy_file(default="reject", services=(OTHER_SERVICE,))),
    )
    cases = [
        make_facts(account=ACCOUNT, tags=None),
        make_facts(account=ACCOUNT),
        make_facts(service_id=OTHER_SERVICE),
        make_facts(account=ACCOUNT, tags=None),
    ]

    decisions = [evaluate(policy, facts).decision for facts in cases]

    assert decisions == ["hold", "accept", "reject", "hold"]
    assert [evaluate(policy, f).to_dict() for f in cases] == [
        evaluate_naive(policy, f).to_dict() for f in cases
    ]
