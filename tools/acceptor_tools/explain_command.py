"""`acceptor policy explain`: the decision a policy makes for one set of facts, and why.

Exit codes: 0 explained (whatever the decision), 1 the policy is invalid or the facts file is
bad (problems on stderr, one per line), 2 usage errors (a path that does not exist).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.evaluate import Evaluation, evaluate
from acceptor.policy.facts import FACT_NAMES, Facts, FactsError
from acceptor.policy.loader import load_policy

STDIN = "-"


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
    try:
        facts = Facts.from_json(text)
    except FactsError as err:
        for facts_problem in err.problems:
            print(f"{facts_name}: {facts_problem}", file=sys.stderr)
        return 1
    evaluation = evaluate(policy, facts)
    if args.json:
        print(json.dumps(to_json(evaluation, facts), indent=2))
    else:
        print(render_text(evaluation, facts))
    return 0


def to_json(evaluation: Evaluation, facts: Facts) -> dict[str, Any]:
    return {**evaluation.to_dict(), "facts": facts.to_dict()}


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


def render_text(evaluation: Evaluation, facts: Facts, *, all_rules: bool = True) -> str:
    """For a person. `all_rules=False` lists only the rules that matched or are unknown."""
    lines = [
        _field("decision", evaluation.decision),
        _field("reason", evaluation.reason),
    ]
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
    shown = [o for o in evaluation.rules if all_rules or o.status != "unmatched"]
    hidden = len(evaluation.rules) - len(shown)
    heading = _field("rules", f"({hidden} unmatched not shown)" if hidden else "")
    lines.append(heading)
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
