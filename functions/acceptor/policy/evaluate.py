"""The decision engine: a policy set and the facts of one request give a decision and why.

Pure code (docs/policy.md, "How a decision is made"). The policy set is compiled once (it
carries its `CompiledPolicy`): per service, lookup tables from condition values to the rules
filed under them, so an evaluation checks only the rules whose anchor condition holds and never
walks the others. One pass gives everything a decision record needs: the deciding rule, the
rules that matched or are unknown (in policy order) with a count of the unmatched ones, and the
service's plan (hold limit, revoke, channels). The plain scan of every rule that this is tested
against lives in the tests (`tests/oracle.py`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from acceptor.policy.conditions import Status
from acceptor.policy.facts import Facts
from acceptor.policy.index import CompiledRule, ServicePlan
from acceptor.policy.model import Decision
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


def rule_outcome(rule: CompiledRule, unknown: tuple[str, ...]) -> RuleOutcome:
    """A rule that was not unmatched: matched without unknown facts, else unknown."""
    status: Status = "unknown" if unknown else "matched"
    return RuleOutcome(rule.name, rule.decision, status, rule.file, unknown, rule.line)


@dataclass(frozen=True)
class Evaluation:
    decision: Outcome
    reason: str
    deciding: CompiledRule | None
    """The deciding rule; None when a default decided, or nothing governs the service."""
    file: str | None
    """The file of the deciding rule, or of the deciding default."""
    missing_facts: tuple[str, ...]
    files: tuple[str, ...]
    policy_hash: str
    rules: tuple[RuleOutcome, ...]
    """The governing rules that matched or are unknown, in policy order."""
    unmatched: int
    """How many governing rules are unmatched (not listed)."""
    plan: ServicePlan | None = field(default=None, compare=False, repr=False)
    """The service's plan: hold limit, revoke, channels. None when nothing governs it."""

    @property
    def rule(self) -> str | None:
        return None if self.deciding is None else self.deciding.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "rule": self.rule,
            "file": self.file,
            "missing_facts": list(self.missing_facts),
            "rules": [outcome.to_dict() for outcome in self.rules],
            "rules_unmatched": self.unmatched,
            "files": list(self.files),
            "policy_hash": self.policy_hash,
        }


def evaluate(policy: PolicySet, facts: Facts) -> Evaluation:
    """Decide one request with the policy set's compiled plan for the request's service."""
    plan = policy.compiled.plan(facts.service_id)
    if not plan.files:
        return _ignore(facts, policy.version_hash)
    lookup = plan.lookup(facts.unknown)
    # Indexed rules that are not unmatched: rule -> its unknown facts (none: matched).
    found: dict[CompiledRule, tuple[str, ...]] = {}
    firsts: dict[tuple[Decision, Status], CompiledRule] = {
        (decision, "unknown"): rule for decision, rule in lookup.first_always_unknown.items()
    }
    missing: set[str] = set(lookup.always_missing)
    for rest, unknown, step, rule in lookup.candidates(facts):
        if rule in found:
            continue
        for fact, test, prepared in rest:
            if not test(prepared, getattr(facts, fact)):
                break  # a false condition: unmatched
        else:
            found[rule] = unknown
            current = firsts.get(step)
            if current is None or rule.position < current.position:
                firsts[step] = rule
            if unknown:
                missing.update(unknown)
    listed = _in_order(found, lookup.always_unknown)

    def deciding(step: tuple[Decision, Status]) -> tuple[CompiledRule, tuple[str, ...]] | None:
        rule = firsts.get(step)
        if rule is None:
            return None
        return rule, found.get(rule, rule.sorted_facts)

    return conclude(plan, policy.version_hash, facts, deciding, missing, listed)


def _in_order(
    found: dict[CompiledRule, tuple[str, ...]], always_unknown: tuple[CompiledRule, ...]
) -> tuple[RuleOutcome, ...]:
    """The found rules and the always-unknown ones, merged by position (both are few, or
    `always_unknown` is already in order and found is empty)."""
    if not found:
        return tuple(rule_outcome(rule, rule.sorted_facts) for rule in always_unknown)
    indexed = sorted(found, key=_position)
    merged = heapq.merge(indexed, always_unknown, key=_position)
    return tuple(rule_outcome(rule, found.get(rule, rule.sorted_facts)) for rule in merged)


def _position(rule: CompiledRule) -> int:
    return rule.position


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


# The decision order (docs/policy.md): the first step that has a rule decides.
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


def conclude(
    plan: ServicePlan,
    policy_hash: str,
    facts: Facts,
    deciding: Callable[[tuple[Decision, Status]], tuple[CompiledRule, tuple[str, ...]] | None],
    missing: Iterable[str],
    listed: tuple[RuleOutcome, ...],
) -> Evaluation:
    """The decision order over the first rule of each step (`deciding`), and the reason."""
    missing_facts = tuple(sorted(missing))
    unmatched = len(plan.rules) - len(listed)
    for step, outcome, explain in DECISION_ORDER:
        first = deciding(step)
        if first is not None:
            rule, unknown = first
            return Evaluation(
                decision=outcome,
                reason=explain(rule_outcome(rule, unknown), facts),
                deciding=rule,
                file=rule.file,
                missing_facts=missing_facts,
                files=plan.files,
                policy_hash=policy_hash,
                rules=listed,
                unmatched=unmatched,
                plan=plan,
            )
    default, setter = _most_restrictive_default(plan.defaults)
    unconfirmed = deciding(("accept", "unknown"))
    return Evaluation(
        decision=default,
        reason=_default_reason(
            default,
            setter,
            len(plan.files),
            None if unconfirmed is None else rule_outcome(*unconfirmed),
            facts,
        ),
        deciding=None,
        file=setter,
        missing_facts=missing_facts,
        files=plan.files,
        policy_hash=policy_hash,
        rules=listed,
        unmatched=unmatched,
        plan=plan,
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
        deciding=None,
        file=None,
        missing_facts=(),
        files=(),
        policy_hash=policy_hash,
        rules=(),
        unmatched=0,
    )
