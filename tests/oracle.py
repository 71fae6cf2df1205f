"""The naive evaluator: every governing rule, every condition, in order. Slow and obvious.

It is the oracle the compiled evaluator (`acceptor.policy.evaluate`) is tested against, on the
whole evaluation: decision, reason, deciding rule, missing facts, the matched and unknown rule
outcomes and the count of unmatched rules. It shares only the reading of a condition
(`conditions.kind_of`) and the wording of reasons (`evaluate.conclude`) with the code under test.
"""

from __future__ import annotations

from acceptor.policy.conditions import Status, kind_of
from acceptor.policy.evaluate import Evaluation, RuleOutcome, conclude, evaluate
from acceptor.policy.facts import Facts
from acceptor.policy.index import CompiledRule, ServicePlan
from acceptor.policy.model import Decision, Rule
from acceptor.policy.policy_set import PolicySet


def evaluate_naive(policy: PolicySet, facts: Facts) -> Evaluation:
    plan = ServicePlan.build(facts.service_id, policy.documents)
    if not plan.files:
        # Nothing governs the service: the answer does not depend on any rule.
        return evaluate(policy, facts)
    rules_by_name = {
        rule.name: rule
        for document in policy.documents
        if document.governs(facts.service_id)
        for rule in document.model.rules
    }
    listed: list[RuleOutcome] = []
    first: dict[tuple[Decision, Status], tuple[CompiledRule, RuleOutcome]] = {}
    for compiled in plan.rules:
        status, unknown = _naive_status(rules_by_name[compiled.name], facts)
        if status == "unmatched":
            continue
        outcome = RuleOutcome(
            compiled.name,
            compiled.decision,
            status,
            compiled.file,
            unknown,
            compiled.line,
            compiled.position,
        )
        listed.append(outcome)
        first.setdefault((compiled.decision, status), (compiled, outcome))
    missing = {fact for outcome in listed for fact in outcome.unknown_facts}
    return conclude(plan, policy.version_hash, facts, first.get, missing, tuple(listed))


def _naive_status(rule: Rule, facts: Facts) -> tuple[Status, tuple[str, ...]]:
    results: list[tuple[str, bool | None]] = []
    for name, condition in rule.when.present().items():
        kind = kind_of(name)
        value = getattr(facts, kind.fact)
        holds = None if value is None else kind.test(kind.prepare(condition), value)
        results.append((kind.fact, holds))
    if any(holds is False for _, holds in results):
        return "unmatched", ()
    unknown = sorted({fact for fact, holds in results if holds is None})
    if unknown:
        return "unknown", tuple(unknown)
    return "matched", ()
