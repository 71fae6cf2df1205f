"""Compiled rules and the index that finds, for one request, the few rules that can match.

A rule matches only if every condition is true, so it is enough to file each rule under one of
its conditions (its *anchor*) and to check fully only the rules whose anchor is true for the
request. Every other rule has a false condition, so it is *unmatched*.

An anchor whose fact is unknown would make its rules candidates for every request. So the index
is built per set of unknown facts: each rule is anchored on a condition over a fact that is
known, and a rule whose every condition tests an unknown fact is *unknown* outright (no
condition can be false), which is worked out once, when that index is built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from acceptor.policy.conditions import Status, kind_of
from acceptor.policy.facts import Facts
from acceptor.policy.model import Decision, OverLimitDecision, Rule

if TYPE_CHECKING:
    from acceptor.policy.policy_set import PolicyDocument

Check = tuple[str, Callable[[Any, Any], bool], Any]
"""(fact name, test, prepared condition)."""

Entry = tuple[tuple[Check, ...], "RuleOutcome", tuple[Decision, Status], "CompiledRule"]
"""(checks left after the anchor, the rule's outcome if they pass, decision step, rule): see
`Lookup.tables`."""

# Where several files govern a service, the most restrictive default wins.
RESTRICTIVENESS: dict[Decision, int] = {"accept": 0, "hold": 1, "reject": 2}

# Enough for every service a provider manages times the few shapes of unknown facts a
# deployment sees; past that, rebuilding is cheaper than remembering everything ever asked.
MAX_CACHED = 1024


@dataclass(frozen=True)
class RuleOutcome:
    """A governing rule that matched or is unknown, as an evaluation lists it."""

    name: str
    decision: Decision
    status: Status
    file: str
    unknown_facts: tuple[str, ...] = ()
    """The rule's unknown facts when they left it `unknown`; empty otherwise."""
    line: int | None = None
    position: int = 0
    """The rule's place among the service's governing rules (files by path, rules as written)."""
    record: dict[str, Any] = field(init=False, repr=False, compare=False)
    """The rule as a decision record lists it (docs/events.md), built once: records share it
    and only ever serialize it, never change it."""

    def __post_init__(self) -> None:
        record = {
            "name": self.name,
            "decision": self.decision,
            "status": self.status,
            "file": self.file,
            "unknown_facts": list(self.unknown_facts),
        }
        object.__setattr__(self, "record", record)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "decision": self.decision,
            "status": self.status,
            "file": self.file,
            "line": self.line,
            "unknown_facts": list(self.unknown_facts),
        }


def outcome_of(rule: CompiledRule, unknown: tuple[str, ...]) -> RuleOutcome:
    """The outcome of a rule that was not unmatched: matched without unknown facts, else
    unknown."""
    status: Status = "unknown" if unknown else "matched"
    return RuleOutcome(
        rule.name, rule.decision, status, rule.file, unknown, rule.line, rule.position
    )


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """One rule ready to test; compared by identity (one object per rule per plan)."""

    position: int
    """Order among the rules governing one service: files by path, then rules as written."""
    name: str
    decision: Decision
    file: str
    line: int | None
    checks: tuple[Check, ...]
    conditions: tuple[str, ...]
    facts: frozenset[str]
    sorted_facts: tuple[str, ...]
    notify: tuple[str, ...] = ()
    security_groups: str | None = None
    """As written in the policy, as JSON text (each record gets its own copy); only accept
    rules have them."""


def compile_rule(position: int, rule: Rule, document: PolicyDocument) -> CompiledRule:
    present = rule.when.present()
    checks = []
    for name, value in present.items():
        kind = kind_of(name)
        checks.append((kind.fact, kind.test, kind.prepare(value)))
    return CompiledRule(
        position=position,
        name=rule.name,
        decision=rule.decision,
        file=document.path,
        line=document.rule_lines.get(rule.name),
        checks=tuple(checks),
        conditions=tuple(present),
        facts=frozenset(fact for fact, _, _ in checks),
        sorted_facts=tuple(sorted({fact for fact, _, _ in checks})),
        notify=tuple(rule.notify),
        security_groups=None
        if rule.security_groups is None
        else rule.security_groups.model_dump_json(exclude_none=True),
    )


@dataclass(frozen=True)
class Lookup:
    """The index of one service's rules for one set of unknown facts."""

    unknown: frozenset[str]
    always_unknown: tuple[RuleOutcome, ...]
    """The rules that test only unknown facts, in order: unknown whatever the known facts."""
    first_always_unknown: dict[Decision, tuple[CompiledRule, RuleOutcome]]
    always_missing: frozenset[str]
    tables: tuple[tuple[str, Callable[[Any], Iterable[Hashable]], dict[Hashable, list[Entry]]], ...]
    """Per anchor kind: the fact, its probe, and index key -> entries of the rules filed there.

    An entry holds what is left to check of its rule once the anchor is known to hold, the
    rule's unknown facts, the step of the decision order it takes part in if those checks pass,
    and the rule. A rule found through the index passes its anchor by construction (a probe
    key equals an index key only when the anchor condition is true), so it is matched when the
    rest passes and it tests no unknown fact, unknown when the rest passes and it does, else
    unmatched."""

    def candidates(self, facts: Facts) -> list[Entry]:
        """Entries of the indexed rules whose anchor holds. A rule may come twice (an OU rule
        listing two OUs on the path); checking it twice gives the same answer, and is cheaper
        than removing duplicates from every answer."""
        found: list[Entry] = []
        for fact, probe, table in self.tables:
            for key in probe(getattr(facts, fact)):
                entries = table.get(key)
                if entries:
                    found.extend(entries)
        return found


def build_lookup(rules: tuple[CompiledRule, ...], unknown: frozenset[str]) -> Lookup:
    always_unknown: list[RuleOutcome] = []
    first: dict[Decision, tuple[CompiledRule, RuleOutcome]] = {}
    missing: set[str] = set()
    by_kind: dict[str, dict[Hashable, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    for rule in rules:
        anchors = [name for name in rule.conditions if kind_of(name).fact not in unknown]
        if not anchors:
            outcome = outcome_of(rule, rule.sorted_facts)
            always_unknown.append(outcome)
            first.setdefault(rule.decision, (rule, outcome))
            missing.update(rule.facts)
            continue
        anchor = min(anchors, key=lambda name: kind_of(name).anchor_rank)
        kind = kind_of(anchor)
        anchor_at = rule.conditions.index(anchor)
        rest = [
            check
            for at, check in enumerate(rule.checks)
            if at != anchor_at and check[0] not in unknown
        ]
        fact, test, prepared = rule.checks[anchor_at]
        left = kind.after_anchor(prepared)
        if left is not None:
            rest.append((fact, test, left))
        unknown_facts = tuple(sorted(rule.facts & unknown))
        step: tuple[Decision, Status] = (rule.decision, "unknown" if unknown_facts else "matched")
        entry = (tuple(rest), outcome_of(rule, unknown_facts), step, rule)
        for key in kind.index_keys(prepared):
            by_kind[anchor][key].append(entry)
    tables = tuple(
        (kind_of(name).fact, kind_of(name).probe_keys, dict(table))
        for name, table in sorted(by_kind.items(), key=lambda item: kind_of(item[0]).anchor_rank)
    )
    return Lookup(
        unknown=unknown,
        always_unknown=tuple(always_unknown),
        first_always_unknown=first,
        always_missing=frozenset(missing),
        tables=tables,
    )


@dataclass(frozen=True)
class FileLimit:
    """The `limits` of one policy file (docs/policy.md, "limits"; `policy/limits.py`)."""

    file: str
    per_account: int
    over_limit: OverLimitDecision


@dataclass(frozen=True)
class HoldLimit:
    """The shortest `hold.expires_after` among the governing files, and the file setting it."""

    after: timedelta
    file: str


@dataclass(eq=False)
class ServicePlan:
    """Everything about one service's governing files that does not depend on the request."""

    service_id: str
    files: tuple[str, ...]
    defaults: tuple[tuple[str, Decision], ...]
    """(file, default) of every governing file, in path order."""
    rules: tuple[CompiledRule, ...]
    default: tuple[Decision, str] = ("hold", "")
    """The most restrictive default of the governing files, and the file that sets it."""
    hold_limit: HoldLimit | None = None
    limits: tuple[FileLimit, ...] = ()
    """The per-account limits of the governing files that set one."""
    revoke: bool = False
    """Some governing file sets `revoke: true`."""
    channels: tuple[str, ...] = ()
    """The governing files' `notify` channels, in order, each once."""
    _lookups: dict[frozenset[str], Lookup] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, service_id: str, documents: Iterable[PolicyDocument]) -> ServicePlan:
        governing = [d for d in documents if d.governs(service_id)]
        rules: list[CompiledRule] = []
        for document in governing:
            for rule in document.model.rules:
                rules.append(compile_rule(len(rules), rule, document))
        limits = [
            (d.model.hold.expires_after, d.path)
            for d in governing
            if d.model.hold.expires_after is not None
        ]
        shortest = min(limits) if limits else None
        setter = max(governing, key=lambda d: RESTRICTIVENESS[d.model.default], default=None)
        return cls(
            service_id=service_id,
            files=tuple(d.path for d in governing),
            defaults=tuple((d.path, d.model.default) for d in governing),
            rules=tuple(rules),
            default=("hold", "") if setter is None else (setter.model.default, setter.path),
            hold_limit=None if shortest is None else HoldLimit(*shortest),
            limits=tuple(
                FileLimit(d.path, set_limits.per_account, set_limits.over_limit)
                for d in governing
                if (set_limits := d.model.limits) is not None
            ),
            revoke=any(d.model.revoke for d in governing),
            channels=tuple(dict.fromkeys(name for d in governing for name in d.model.notify)),
        )

    def lookup(self, unknown: frozenset[str]) -> Lookup:
        found = self._lookups.get(unknown)
        if found is None:
            if len(self._lookups) >= MAX_CACHED:
                self._lookups.clear()
            found = self._lookups[unknown] = build_lookup(self.rules, unknown)
        return found


class CompiledPolicy:
    """A policy set compiled for decisions: one `ServicePlan` per service, built on first use.

    It belongs to its `PolicySet` (built with it, so the cached loader compiles once per
    execution environment). Plans are per service ID, not per file, because `services: ["*"]`
    governs services no list names; past `MAX_CACHED` services the plans are rebuilt.
    """

    def __init__(self, documents: tuple[PolicyDocument, ...]) -> None:
        self._documents = documents
        self._plans: dict[str, ServicePlan] = {}

    def plan(self, service_id: str) -> ServicePlan:
        plan = self._plans.get(service_id)
        if plan is None:
            if len(self._plans) >= MAX_CACHED:
                self._plans.clear()
            plan = self._plans[service_id] = ServicePlan.build(service_id, self._documents)
        return plan
