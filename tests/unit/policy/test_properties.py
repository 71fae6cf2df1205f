"""Properties of the decision engine over random policies and fact sets (hypothesis).

The value pools are small on purpose: random rules and random facts then meet often, so the
interesting cases (matched, unknown, several files) come up in most examples.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acceptor.policy.evaluate import RESTRICTIVENESS, evaluate
from acceptor.policy.facts import FACT_NAMES, Facts
from oracle import evaluate_naive

SERVICES = ("vpce-svc-0123456789abcdef0", "vpce-svc-0fedcba9876543210")
UNGOVERNED = "vpce-svc-00000000000000000"
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
REGIONS = ("us-east-1", "eu-west-1")
VPCS = ("vpc-0a1b2c3d4e5f67890", "vpc-11111111", "vpc-22222222")
ENDPOINTS = ("vpce-0123456789abcdef0", "vpce-33333333", "vpce-44444444")
OUS = ("ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333")
TAG_KEYS = ("env", "team")
TAG_VALUES = ("prod", "dev", "*")

# The fixtures used are session-scoped builders, safe to share between examples.
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=_QUIET)
# The equivalence of the two evaluators guards the index: it gets the most examples.
MANY_EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=_QUIET)


def _some(pool: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True)


_tag_condition = st.dictionaries(
    st.sampled_from(TAG_KEYS),
    st.one_of(st.sampled_from(TAG_VALUES), _some(TAG_VALUES)),
    min_size=1,
    max_size=2,
)

_when = st.fixed_dictionaries(
    {},
    optional={
        "accounts": _some(ACCOUNTS),
        "regions": _some(REGIONS),
        "vpcs": _some(VPCS),
        "endpoints": _some(ENDPOINTS),
        "organizational_units": _some(OUS),
        "tags": _tag_condition,
        "vpc_tags": _tag_condition,
    },
).filter(bool)

_rule = st.tuples(st.sampled_from(("accept", "reject", "hold")), _when)

_file = st.fixed_dictionaries(
    {
        "services": st.lists(
            st.sampled_from((*SERVICES, "*")), min_size=1, max_size=2, unique=True
        ),
        "default": st.sampled_from(("accept", "reject", "hold")),
        "rules": st.lists(_rule, max_size=5),
    }
)

Files = list[dict[str, Any]]
policies = st.lists(_file, min_size=1, max_size=3)


def _tags(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, str] | None]:
    return st.none() | st.dictionaries(
        st.sampled_from(keys), st.sampled_from(("prod", "dev", "other")), max_size=2
    )


facts_sets = st.builds(
    Facts,
    service_id=st.sampled_from((*SERVICES, UNGOVERNED)),
    endpoint_id=st.none() | st.sampled_from((*ENDPOINTS, "vpce-55555555")),
    account=st.none() | st.sampled_from((*ACCOUNTS, "999900001111")),
    region=st.none() | st.sampled_from((*REGIONS, "ap-southeast-2")),
    vpc_id=st.none() | st.sampled_from((*VPCS, "vpc-99999999")),
    tags=_tags((*TAG_KEYS, "owner")),
    vpc_tags=_tags((*TAG_KEYS, "tier")),
    ou_path=st.none()
    | st.lists(st.sampled_from(OUS), max_size=2, unique=True).map(lambda p: ("r-ab12", *p)),
    unknown_reasons=st.just({}),
)


def to_policy(make_policy: Any, files: Files, names: list[str] | None = None) -> Any:
    """A policy set of these files (rules already named), under these paths."""
    names = names or [f"policy-{n}.yaml" for n in range(len(files))]
    documents = []
    for name, content in zip(names, files, strict=True):
        rules = [
            {"name": rule_name, "decision": decision, "when": when}
            for rule_name, (decision, when) in content["rules"]
        ]
        body = {"version": 1, "services": content["services"], "default": content["default"]}
        documents.append((name, {**body, "rules": rules}))
    return make_policy(*documents)


def named(files: list[dict[str, Any]]) -> Files:
    """Give every rule a unique name, kept with the rule when rules are shuffled."""
    counter = 0
    result = []
    for content in files:
        rules = []
        for rule in content["rules"]:
            rules.append((f"rule-{counter}", rule))
            counter += 1
        result.append({**content, "rules": rules})
    return result


@EXAMPLES
@given(files=policies, facts=facts_sets)
def test_accept_only_when_no_reject_or_hold_rule_applies_and_an_accept_rule_or_defaults_allow(
    files: Files, facts: Facts, make_policy: Any
) -> None:
    policy = to_policy(make_policy, named(files))
    result = evaluate(policy, facts)

    if result.decision == "accept":
        blocking = [
            outcome
            for outcome in result.rules
            if outcome.decision in ("reject", "hold") and outcome.status != "unmatched"
        ]
        assert blocking == []
        accept_matched = any(o.decision == "accept" and o.status == "matched" for o in result.rules)
        defaults = {d.model.default for d in policy.governing(facts.service_id)}
        assert accept_matched or defaults == {"accept"}


@EXAMPLES
@given(files=policies, facts=facts_sets)
def test_turning_a_known_fact_unknown_never_turns_a_non_accept_into_accept(
    files: Files, facts: Facts, make_policy: Any
) -> None:
    policy = to_policy(make_policy, named(files))
    before = evaluate(policy, facts).decision

    for name in FACT_NAMES:
        if getattr(facts, name) is None:
            continue
        forgotten: dict[str, Any] = {name: None}
        after = evaluate(policy, dataclasses.replace(facts, **forgotten)).decision
        if before != "accept":
            assert after != "accept", f"making {name} unknown turned {before} into accept"


@EXAMPLES
@given(files=policies, facts=facts_sets, data=st.data())
def test_order_of_rules_and_of_files_does_not_change_the_decision(
    files: Files, facts: Facts, data: st.DataObject, make_policy: Any
) -> None:
    files = named(files)
    shuffled = [
        {**content, "rules": data.draw(st.permutations(content["rules"]))} for content in files
    ]
    paths = [f"policy-{n}.yaml" for n in range(len(files))]
    reordered_paths = data.draw(st.permutations(paths))

    original = evaluate(to_policy(make_policy, files, paths), facts)
    reordered = evaluate(to_policy(make_policy, shuffled, reordered_paths), facts)

    assert reordered.decision == original.decision
    assert reordered.missing_facts == original.missing_facts
    assert {(o.name, o.status) for o in reordered.rules} == {
        (o.name, o.status) for o in original.rules
    }


@MANY_EXAMPLES
@given(files=policies, facts=st.lists(facts_sets, min_size=1, max_size=8))
def test_compiled_evaluator_gives_the_naive_scans_whole_record(
    files: Files, facts: list[Facts], make_policy: Any
) -> None:
    policy = to_policy(make_policy, named(files))

    for one in facts:
        compiled = evaluate(policy, one)
        naive = evaluate_naive(policy, one)
        # decision, reason, deciding rule and file, missing facts, every matched or unknown
        # rule with its status and unknown facts, the unmatched count, files, policy hash
        assert compiled.to_dict() == naive.to_dict()
        assert compiled.rules == naive.rules
        assert compiled.unmatched + len(compiled.rules) == sum(
            len(d.model.rules) for d in policy.governing(one.service_id)
        )
        deciding = (compiled.deciding, naive.deciding)
        assert [None if r is None else (r.notify, r.security_groups) for r in deciding] == [
            None
            if naive.deciding is None
            else (naive.deciding.notify, naive.deciding.security_groups)
        ] * 2


@EXAMPLES
@given(files=policies, facts=facts_sets)
def test_default_decision_is_the_most_restrictive_governing_default(
    files: Files, facts: Facts, make_policy: Any
) -> None:
    policy = to_policy(make_policy, named(files))
    result = evaluate(policy, facts)

    governing = policy.governing(facts.service_id)
    if not governing:
        assert result.decision == "ignore"
    elif result.rule is None:
        assert result.decision == max(
            (d.model.default for d in governing), key=RESTRICTIVENESS.__getitem__
        )
