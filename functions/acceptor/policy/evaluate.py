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

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal

from acceptor.policy.conditions import Status
from acceptor.policy.facts import Facts
from acceptor.policy.index import RESTRICTIVENESS, CompiledRule, Lookup, RuleOutcome, ServicePlan

__all__ = ["RESTRICTIVENESS", "Evaluation", "Outcome", "RuleOutcome", "conclude", "evaluate"]
from acceptor.policy.model import Decision
from acceptor.policy.policy_set import PolicySet

Outcome = Literal["accept", "reject", "hold", "ignore"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Outcome
    reason: str
    deciding: CompiledRule | None
    """The deciding rule; None when a default decided, or nothing governs the service."""
    deciding_outcome: RuleOutcome | None
    """The deciding rule as `rules` lists it."""
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
    # Indexed rules that are not unmatched, with their outcomes.
    found: dict[CompiledRule, RuleOutcome] = {}
    firsts: dict[tuple[Decision, Status], tuple[CompiledRule, RuleOutcome]] = {
        (decision, "unknown"): first for decision, first in lookup.first_always_unknown.items()
    }
    missing: set[str] = set(lookup.always_missing)
    for rest, outcome, step, rule in lookup.candidates(facts):
        if rule in found:
            continue
        for fact, test, prepared in rest:
            if not test(prepared, getattr(facts, fact)):
                break  # a false condition: unmatched
        else:
            found[rule] = outcome
            current = firsts.get(step)
            if current is None or rule.position < current[0].position:
                firsts[step] = (rule, outcome)
            if outcome.unknown_facts:
                missing.update(outcome.unknown_facts)
    return conclude(plan, policy.version_hash, facts, firsts.get, missing, _in_order(found, lookup))


def _in_order(found: dict[CompiledRule, RuleOutcome], lookup: Lookup) -> tuple[RuleOutcome, ...]:
    """The found rules and the always-unknown ones, by position. The always-unknown outcomes
    are built once per lookup and may be many; the found ones are few, so they are inserted."""
    if not found:
        return lookup.always_unknown
    if not lookup.always_unknown or len(found) > INSERT_AT_MOST:
        return tuple(sorted([*lookup.always_unknown, *found.values()], key=_position))
    merged = list(lookup.always_unknown)
    for outcome in found.values():
        bisect.insort(merged, outcome, key=_position)
    return tuple(merged)


_position = attrgetter("position")
# Past this many found rules, one sort of both (sorted) runs beats inserting them one by one.
INSERT_AT_MOST = 8


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
    deciding: Callable[[tuple[Decision, Status]], tuple[CompiledRule, RuleOutcome] | None],
    missing: Iterable[str],
    listed: tuple[RuleOutcome, ...],
) -> Evaluation:
    """The decision order over the first rule of each step (`deciding`), and the reason."""
    missing_facts = tuple(sorted(missing))
    unmatched = len(plan.rules) - len(listed)
    for step, outcome, explain in DECISION_ORDER:
        first = deciding(step)
        if first is not None:
            rule, listed_as = first
            return Evaluation(
                decision=outcome,
                reason=explain(listed_as, facts),
                deciding=rule,
                deciding_outcome=listed_as,
                file=rule.file,
                missing_facts=missing_facts,
                files=plan.files,
                policy_hash=policy_hash,
                rules=listed,
                unmatched=unmatched,
                plan=plan,
            )
    default, setter = plan.default
    unconfirmed = deciding(("accept", "unknown"))
    return Evaluation(
        decision=default,
        reason=_default_reason(
            default,
            setter,
            len(plan.files),
            None if unconfirmed is None else unconfirmed[1],
            facts,
        ),
        deciding=None,
        deciding_outcome=None,
        file=setter,
        missing_facts=missing_facts,
        files=plan.files,
        policy_hash=policy_hash,
        rules=listed,
        unmatched=unmatched,
        plan=plan,
    )


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
        deciding_outcome=None,
        file=None,
        missing_facts=(),
        files=(),
        policy_hash=policy_hash,
        rules=(),
        unmatched=0,
    )
