"""`acceptor policy explain`: the decision a policy makes for one set of facts, and why.

The decision comes from `decide_one`, the function Decide runs, for a pending request with
these facts. A facts file may also carry `created_at` (when the connection was requested) and
`now` (when to decide), both ISO 8601 with an offset; with `created_at` the explanation says
when a hold turns into a reject (docs/policy.md, "Explaining a decision").

`--facts FILE.jsonl` takes one fact set per line and prints one line per fact set: with
`--json`, the decision record Decide writes (docs/events.md); a bad line is reported on stderr
as `FILE:LINE: message` and the run goes on.

Exit codes: 0 explained (whatever the decision), 1 the policy is invalid or a facts file (or a
line of it) is bad (problems on stderr, one per line), 2 usage errors (a path that does not
exist).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from acceptor.contract import Action, RequestedDetail, Timestamp
from acceptor.decision.connection import PENDING, Connection
from acceptor.decision.decide_one import NOT_COUNTED, Decision, NotCounted, decide_one
from acceptor.decision.gather import RequestFacts
from acceptor.decision.record import decided_json
from acceptor.decision.records import NO_RECORDS
from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.evaluate import Evaluation
from acceptor.policy.facts import FACT_NAMES, Facts, FactsError, FactsProblem
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet

STDIN = "-"
JSON_LINES = ".jsonl"
# Keys of a facts file that say when, not what: read here, not by `Facts`.
TIME_KEYS = ("created_at", "now")
# What explain's request is called in the record: not an event, so no correlation ID of AWS.
CORRELATION = "acceptor-policy-explain"

_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)


@dataclass(frozen=True)
class Explained:
    facts: Facts
    decision: Decision
    created_at: datetime | None
    """Given in the facts file; None when it was not (then no hold expiry is reported)."""
    now: datetime

    @property
    def evaluation(self) -> Evaluation:
        assert self.decision.evaluation is not None  # a pending request is always evaluated
        return self.decision.evaluation

    @property
    def hold_expires_at(self) -> datetime | None:
        return self.decision.hold_expires_at if self.created_at is not None else None


def explain(args: argparse.Namespace) -> int:
    policy_path = Path(args.policy)
    if not policy_path.exists():
        return _usage(f"--policy {args.policy}: no such file or folder")
    facts_name = "<stdin>" if args.facts == STDIN else args.facts
    try:
        text = sys.stdin.read() if args.facts == STDIN else Path(args.facts).read_text("utf-8")
    except FileNotFoundError:
        return _usage(f"--facts {args.facts}: no such file")
    except (OSError, UnicodeDecodeError) as err:
        print(f"{facts_name}: cannot be read: {err}", file=sys.stderr)
        return 1
    try:
        policy = load_policy([args.policy])
    except PolicyValidationError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 1
    if facts_name.endswith(JSON_LINES):
        return _explain_lines(policy, facts_name, text, as_json=args.json)
    try:
        explained = explain_facts(policy, _json_object(text))
    except FactsError as err:
        for facts_problem in err.problems:
            print(f"{facts_name}: {facts_problem}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(to_json(explained), indent=2))
    else:
        print(render_text(explained))
    return 0


def _explain_lines(policy: PolicySet, name: str, text: str, *, as_json: bool) -> int:
    bad = 0
    for number, line in _lines(text):
        try:
            explained = explain_facts(policy, _json_object(line))
        except FactsError as err:
            bad += 1
            for problem in err.problems:
                where = "" if problem.field.startswith("line ") else f"{problem.field}: "
                print(f"{name}:{number}: {where}{problem.message}", file=sys.stderr)
            continue
        if as_json:
            print(json.dumps(decision_record(explained), separators=(",", ":")))
        else:
            print(f"--- {name}:{number}")
            print(render_text(explained))
    return 1 if bad else 0


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise FactsError(
            [FactsProblem(f"line {err.lineno}", f"not valid JSON: {err.msg}")]
        ) from err


def explain_facts(policy: PolicySet, data: Any, *, clock: datetime | None = None) -> Explained:
    """Decide a pending request with these facts, as Decide would (`decide_one`)."""
    if not isinstance(data, Mapping):
        raise FactsError([FactsProblem("(top level)", "a facts file is one JSON object")])
    times = {key: _time(key, data[key]) for key in TIME_KEYS if key in data}
    facts = Facts.from_mapping({k: v for k, v in data.items() if k not in TIME_KEYS})
    now = times.get("now") or clock or datetime.now(UTC)
    created_at = times.get("created_at")
    decision = decide_pending(policy, facts, created_at or now, now)
    return Explained(facts, decision, created_at, now)


def decide_pending(
    policy: PolicySet,
    facts: Facts,
    created_at: datetime,
    now: datetime,
    *,
    connections: int | NotCounted | None = NOT_COUNTED,
) -> Decision:
    """`decide_one` for a pending request with these facts, as Decide would decide it."""
    request, connection = _pending(facts, created_at)
    return decide_one(
        request,
        connection,
        RequestFacts(facts),
        NO_RECORDS,
        policy,
        now,
        connections=connections,
    )


def _time(key: str, value: Any) -> datetime:
    try:
        return _TIMESTAMP.validate_python(value)
    except ValidationError as err:
        message = err.errors()[0]["msg"]
        raise FactsError([FactsProblem(key, f"not an ISO 8601 time: {message}")]) from err


def _pending(facts: Facts, created_at: datetime) -> tuple[RequestedDetail, Connection]:
    """The pending request and connection Decide would have for these facts."""
    if facts.endpoint_id is None or facts.account is None or facts.region is None:
        missing = [n for n in ("endpoint_id", "account", "region") if getattr(facts, n) is None]
        raise FactsError(
            [
                FactsProblem(
                    name, "is needed: Decide always knows the endpoint, account and region"
                )
                for name in missing
            ]
        )
    try:
        request = RequestedDetail(
            service_id=facts.service_id,
            endpoint_id=facts.endpoint_id,
            account=facts.account,
            region=facts.region,
            state=PENDING,
            created_at=created_at,
            origin="sweep",
            correlation_id=CORRELATION,
        )
    except ValidationError as err:
        raise FactsError(
            [FactsProblem(".".join(map(str, e["loc"])), e["msg"]) for e in err.errors()]
        ) from err
    connection = Connection(
        facts.service_id, facts.endpoint_id, facts.account, facts.region, PENDING, created_at
    )
    return request, connection


def decision_record(explained: Explained) -> dict[str, Any]:
    """The record Decide writes for this decision (docs/events.md), as a dry run at `now`."""
    decision = explained.decision
    record = decided_json(
        decision,
        action=Action(type=decision.action, result="dry-run"),
        state_after=PENDING,
        dry_run=True,
        decided_at=explained.now,
        policy_hash=explained.evaluation.policy_hash,
    )
    if explained.created_at is None:
        record["hold_expires_at"] = None
        record["created_at"] = None
    record["kind"] = "decision"
    record["facts"] = explained.facts.to_dict()
    return record


def to_json(explained: Explained) -> dict[str, Any]:
    """The single-file `--json` form: the evaluation with every listed rule's line, the
    decision taken, and the facts."""
    decision = explained.decision
    expires = explained.hold_expires_at
    return {
        **explained.evaluation.to_dict(),
        "decision": decision.decision,
        "reason": decision.reason,
        "action": decision.action,
        "hold_expires_at": None if expires is None else expires.isoformat(),
        "facts": explained.facts.to_dict(),
    }


def describe_facts(facts: Facts) -> str:
    """One line: every fact, `?` for the unknown ones."""
    parts = [f"service={facts.service_id}"]
    for name in FACT_NAMES:
        value = getattr(facts, name)
        if value is None:
            shown = "?"
        elif name == "ou_path":
            shown = "/".join(value) or "(none)"
        elif name in ("tags", "vpc_tags"):
            shown = "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
        else:
            shown = str(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def render_text(explained: Explained) -> str:
    """For a person: the decision, why, the missing facts, and the matched or unknown rules."""
    evaluation, facts, decision = explained.evaluation, explained.facts, explained.decision
    lines = [_field("decision", decision.decision), _field("reason", decision.reason)]
    expires = explained.hold_expires_at
    if expires is not None and decision.decision == "hold":
        lines.append(
            _field("hold expires", f"{expires.isoformat()} (then the hold turns into a reject)")
        )
    if evaluation.missing_facts:
        missing = ", ".join(f"{m} ({facts.why_unknown(m)})" for m in evaluation.missing_facts)
        lines.append(_field("missing facts", missing))
    else:
        lines.append(_field("missing facts", "none"))
    if not evaluation.files:
        lines.append(_field("rules", f"none (no policy file governs {facts.service_id})"))
        return "\n".join(lines)
    files = ", ".join(evaluation.files)
    lines.append(_field("files", f"{files} (policy {evaluation.policy_hash})"))
    hidden = evaluation.unmatched
    lines.append(_field("rules", f"({hidden} unmatched not shown)" if hidden else ""))
    shown = evaluation.rules
    if not shown:
        lines.append("  (none)")
        return "\n".join(lines)
    with_unknown = any(outcome.unknown_facts for outcome in shown)
    header = ("STATUS", "DECISION", "RULE", "WHERE", "UNKNOWN FACTS")
    table: list[tuple[str, ...]] = [header if with_unknown else header[:4]]
    for outcome in shown:
        where = outcome.file if outcome.line is None else f"{outcome.file}:{outcome.line}"
        row: tuple[str, ...] = (outcome.status, outcome.decision, outcome.name, where)
        table.append((*row, ", ".join(outcome.unknown_facts)) if with_unknown else row)
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def _field(label: str, value: str) -> str:
    return f"{label + ':':<15}{value}".rstrip()


def _usage(message: str) -> int:
    print(f"acceptor policy explain: error: {message}", file=sys.stderr)
    return 2
