"""The decision engine: a policy set and the facts of one request give a decision and why.

Pure code (DESIGN.md, "Semantics"). Two paths give identical results: `Evaluator`, which
compiles the policy and uses an index to check only the rules that can match (the one the
acceptor runs), and `evaluate_naive`, a plain scan of every rule kept as the reference the
indexed path is tested against.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal

from acceptor.policy.conditions import Status, kind_of
from acceptor.policy.facts import Facts
from acceptor.policy.index import MAX_CACHED, CompiledRule, ServicePlan
from acceptor.policy.model import Decision, Rule
from acceptor.policy.policy_set import PolicySet

Outcome = Literal["accept", "reject", "hold", "ignore"]

# Where several files govern a service, the most restrictive default wins.
RESTRICTIVENESS: dict[Decision, int] = {"accept": 0, "hold": 1, "reject": 2}


@dataclass(frozen=True)
class RuleOutcome:
    name: str
    decision: Decision
    status: Status
    file: str
    unknown_facts: tuple[str, ...] = ()
    """The rule's unknown facts when they left it `unknown`; empty otherwise."""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "decision": self.decision,
            "status": self.status,
            "file": self.file,
            "line": self.line,
            "unknown_facts": list(self.unknown_facts),
        }


@dataclass(frozen=True, eq=False)
class Evaluation:
    decision: Outcome
    reason: str
    rule: str | None
    """The deciding rule; None when a default decided, or nothing governs the service."""
    file: str | None
    """The file of the deciding rule, or of the deciding default."""
    missing_facts: tuple[str, ...]
    files: tuple[str, ...]
    policy_hash: str
    build_rules: Callable[[], tuple[RuleOutcome, ...]] = field(repr=False)
    """Builds `rules` on demand: deciding must not pay for a thousand objects."""

    @cached_property
    def rules(self) -> tuple[RuleOutcome, ...]:
        """Every governing rule, in order, with its status."""
        return self.build_rules()

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "rule": self.rule,
            "file": self.file,
            "missing_facts": list(self.missing_facts),
            "rules": [outcome.to_dict() for outcome in self.rules],
            "files": list(self.files),
            "policy_hash": self.policy_hash,
        }

    def _key(self) -> tuple[object, ...]:
        return (
            self.decision,
            self.reason,
            self.rule,
            self.file,
            self.missing_facts,
            self.files,
            self.policy_hash,
            self.rules,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evaluation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def evaluate(policy: PolicySet, facts: Facts) -> Evaluation:
    """Decide one request with the compiled evaluator of this policy set (built once)."""
    return Evaluator.for_policy(policy).evaluate(facts)


class Evaluator:
    """A policy set compiled for fast decisions: per service, an index of its rules."""

    _compiled: ClassVar[dict[int, tuple[weakref.ref[PolicySet], Evaluator]]] = {}

    def __init__(self, policy: PolicySet) -> None:
        # The parts, not the set: the cache in `for_policy` must not keep a set alive.
        self._documents = policy.documents
        self._policy_hash = policy.version_hash
        self._plans: dict[str, ServicePlan] = {}

    @classmethod
    def for_policy(cls, policy: PolicySet) -> Evaluator:
        # Keyed by identity, not content: two sets with equal rules may differ in file paths,
        # which the reasons name. The weak reference drops the entry with its policy set.
        key = id(policy)
        entry = cls._compiled.get(key)
        if entry is not None and entry[0]() is policy:
            return entry[1]
        evaluator = cls(policy)

        def forget(ref: weakref.ref[PolicySet]) -> None:
            current = cls._compiled.get(key)
            if current is not None and current[0] is ref:
                del cls._compiled[key]

        cls._compiled[key] = (weakref.ref(policy, forget), evaluator)
        return evaluator

    def plan(self, service_id: str) -> ServicePlan:
        plan = self._plans.get(service_id)
        if plan is None:
            if len(self._plans) >= MAX_CACHED:
                self._plans.clear()
            plan = self._plans[service_id] = ServicePlan.build(service_id, self._documents)
        return plan

    def evaluate(self, facts: Facts) -> Evaluation:
        plan = self.plan(facts.service_id)
        if not plan.files:
            return _ignore(facts, self._policy_hash)
        lookup = plan.lookup(facts.unknown)
        # Candidates that are not unmatched: position -> unknown facts (none: matched).
        found: dict[int, tuple[str, ...]] = {}
        firsts: dict[tuple[Decision, Status], CompiledRule] = {
            (decision, "unknown"): rule for decision, rule in lookup.first_always_unknown.items()
        }
        unknowns: list[Iterable[str]] = [lookup.always_missing]
        for rest, unknown, step, rule in lookup.candidates(facts):
            for fact, test, prepared in rest:
                if not test(prepared, getattr(facts, fact)):
                    break  # a false condition: unmatched
            else:
                found[rule.position] = unknown
                current = firsts.get(step)
                if current is None or rule.position < current.position:
                    firsts[step] = rule
                if unknown:
                    unknowns.append(unknown)
        missing = frozenset().union(*unknowns)

        def state(rule: CompiledRule) -> tuple[Status, tuple[str, ...]]:
            unknown = found.get(rule.position)
            if unknown is not None:
                return ("unknown" if unknown else "matched"), unknown
            if rule.position in lookup.always_unknown:
                return "unknown", tuple(sorted(rule.facts))
            return "unmatched", ()

        def deciding(step: tuple[Decision, Status]) -> RuleOutcome | None:
            rule = firsts.get(step)
            return None if rule is None else _outcome(rule, *state(rule))

        def outcomes() -> tuple[RuleOutcome, ...]:
            return tuple(_outcome(rule, *state(rule)) for rule in plan.rules)

        return _conclude(
            plan.files, plan.defaults, self._policy_hash, facts, deciding, missing, outcomes
        )


def evaluate_naive(policy: PolicySet, facts: Facts) -> Evaluation:
    """The reference: every governing rule, every condition, in order. Slow and obvious."""
    documents = policy.governing(facts.service_id)
    if not documents:
        return _ignore(facts, policy.version_hash)
    outcomes: list[RuleOutcome] = []
    for document in documents:
        for rule in document.model.rules:
            status, unknown = _naive_status(rule, facts)
            outcomes.append(
                RuleOutcome(
                    name=rule.name,
                    decision=rule.decision,
                    status=status,
                    file=document.path,
                    unknown_facts=unknown,
                    line=document.rule_lines.get(rule.name),
                )
            )
    deciding: dict[tuple[Decision, Status], RuleOutcome] = {}
    for outcome in outcomes:
        if outcome.status != "unmatched":
            deciding.setdefault((outcome.decision, outcome.status), outcome)
    missing = {fact for outcome in outcomes for fact in outcome.unknown_facts}
    frozen = tuple(outcomes)
    return _conclude(
        tuple(d.path for d in documents),
        tuple((d.path, d.model.default) for d in documents),
        policy.version_hash,
        facts,
        deciding.get,
        missing,
        lambda: frozen,
    )


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


def _outcome(rule: CompiledRule, status: Status, unknown: tuple[str, ...]) -> RuleOutcome:
    return RuleOutcome(rule.name, rule.decision, status, rule.file, unknown, rule.line)


def _ref(rule: RuleOutcome, *, kind: bool = True) -> str:
    where = rule.file if rule.line is None else f"{rule.file}:{rule.line}"
    what = f"{rule.decision} rule" if kind else "rule"
    return f'{what} "{rule.name}" ({where})'


def _join(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _unknown_phrase(names: Iterable[str], facts: Facts) -> str:
    """`tags and vpc_id are unknown (no consumer role configured)`: facts grouped by why."""
    by_reason: dict[str, list[str]] = {}
    for name in names:
        by_reason.setdefault(facts.why_unknown(name), []).append(name)
    return _join(
        f"{_join(group)} {'is' if len(group) == 1 else 'are'} unknown ({why})"
        for why, group in by_reason.items()
    )


def _matched(verdict: str) -> Callable[[RuleOutcome, Facts], str]:
    return lambda rule, facts: f"{verdict} by {_ref(rule, kind=False)}: all of its conditions hold."


def _cannot_rule_out(rule: RuleOutcome, facts: Facts) -> str:
    return (
        f"Held: {_ref(rule)} cannot be ruled out because "
        f"{_unknown_phrase(rule.unknown_facts, facts)}."
    )


def _may_apply(rule: RuleOutcome, facts: Facts) -> str:
    return f"Held: {_ref(rule)} may apply because {_unknown_phrase(rule.unknown_facts, facts)}."


# DESIGN.md's decision order: the first step that has a rule decides.
# (rule decision, rule status) -> (outcome, how the reason reads)
DECISION_ORDER: tuple[
    tuple[tuple[Decision, Status], Outcome, Callable[[RuleOutcome, Facts], str]], ...
] = (
    (("reject", "matched"), "reject", _matched("Rejected")),
    (("reject", "unknown"), "hold", _cannot_rule_out),
    (("hold", "matched"), "hold", _matched("Held")),
    (("hold", "unknown"), "hold", _may_apply),
    (("accept", "matched"), "accept", _matched("Accepted")),
)


def _conclude(
    files: tuple[str, ...],
    defaults: tuple[tuple[str, Decision], ...],
    policy_hash: str,
    facts: Facts,
    deciding: Callable[[tuple[Decision, Status]], RuleOutcome | None],
    missing: Iterable[str],
    outcomes: Callable[[], tuple[RuleOutcome, ...]],
) -> Evaluation:
    missing_facts = tuple(sorted(missing))
    for step, outcome, explain in DECISION_ORDER:
        rule = deciding(step)
        if rule is not None:
            return Evaluation(
                decision=outcome,
                reason=explain(rule, facts),
                rule=rule.name,
                file=rule.file,
                missing_facts=missing_facts,
                files=files,
                policy_hash=policy_hash,
                build_rules=outcomes,
            )
    default, setter = _most_restrictive_default(defaults)
    unconfirmed = deciding(("accept", "unknown"))
    return Evaluation(
        decision=default,
        reason=_default_reason(default, setter, len(files), unconfirmed, facts),
        rule=None,
        file=setter,
        missing_facts=missing_facts,
        files=files,
        policy_hash=policy_hash,
        build_rules=outcomes,
    )


def _most_restrictive_default(defaults: tuple[tuple[str, Decision], ...]) -> tuple[Decision, str]:
    file, default = max(defaults, key=lambda item: RESTRICTIVENESS[item[1]])
    return default, file


def _default_reason(
    default: Decision,
    setter: str,
    file_count: int,
    unconfirmed: RuleOutcome | None,
    facts: Facts,
) -> str:
    opening = "No rule matched"
    if unconfirmed is not None:
        opening += (
            f" and {_ref(unconfirmed)} cannot be confirmed because "
            f"{_unknown_phrase(unconfirmed.unknown_facts, facts)}"
        )
    if file_count == 1:
        return f"{opening}, so the default of {setter} applies: {default}."
    return (
        f"{opening}, so the most restrictive default of the {file_count} governing files "
        f"applies: {default}, set by {setter}."
    )


def _ignore(facts: Facts, policy_hash: str) -> Evaluation:
    return Evaluation(
        decision="ignore",
        reason=(
            f"No policy file governs service {facts.service_id}, "
            "so the acceptor leaves this request alone."
        ),
        rule=None,
        file=None,
        missing_facts=(),
        files=(),
        policy_hash=policy_hash,
        build_rules=tuple,
    )
