"""`acceptor replay` and `acceptor policy diff`.

Exit codes: 0 the replay ran to quiet (and, for `policy diff`, no decision changed); 1 the
inputs were refused (template, world, policy or event file), the application did not become
quiet within the limits, or (`policy diff`) some decision changed; 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor_tools.local_aws import WorldError
from acceptor_tools.replay.deploy import DeployError
from acceptor_tools.replay.feeding import InjectError
from acceptor_tools.replay.intrinsics import TemplateError
from acceptor_tools.replay.local import ReplayConfig
from acceptor_tools.replay.report import Report, json_lines, render_text
from acceptor_tools.replay.run import Change, decision_changes, replay_demo, replay_files
from acceptor_tools.replay.session import Limits

# What a person can fix from the message alone; anything else is a bug and shows its traceback.
REFUSALS = (TemplateError, DeployError, InjectError, WorldError, PolicyValidationError)


def replay_command(args: argparse.Namespace) -> int:
    try:
        config = _config(args, Path(args.policy))
        report = _play(config, args)
        if args.diff:
            baseline = _config(args, Path(args.diff), outbox=Path(args.outbox) / "baseline")
            changes = decision_changes(_play(baseline, args), report)
    except REFUSALS as err:
        print(f"acceptor replay: {err}", file=sys.stderr)
        return 1
    _print_report(report, args.json, sys.stdout)
    if args.diff:
        _print_changes(changes, Path(args.diff), Path(args.policy), args.json, sys.stdout)
    return 0 if report.log.quiet else 1


def policy_diff_command(args: argparse.Namespace) -> int:
    try:
        old = _play(_config(args, Path(args.old), outbox=Path(args.outbox) / "old"), args)
        new = _play(_config(args, Path(args.new), outbox=Path(args.outbox) / "new"), args)
    except REFUSALS as err:
        print(f"acceptor policy diff: {err}", file=sys.stderr)
        return 1
    changes = decision_changes(old, new)
    _print_changes(changes, Path(args.old), Path(args.new), args.json, sys.stdout)
    if not (old.log.quiet and new.log.quiet):
        print("acceptor policy diff: a replay did not become quiet", file=sys.stderr)
        return 1
    return 1 if changes else 0


def _config(args: argparse.Namespace, policy: Path, outbox: Path | None = None) -> ReplayConfig:
    # An invalid policy never deploys (sam build refuses it): refuse it here the same way.
    load_policy([policy])
    return ReplayConfig(
        template=Path(args.template),
        world=Path(args.world),
        policy=policy,
        outbox=outbox or Path(args.outbox),
        parameters=_parameters(args.parameter),
        limits=Limits(max_seconds=args.timeout),
    )


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise TemplateError(f"--parameter {pair!r}: expected NAME=VALUE")
        parameters[name] = value
    return parameters


def _play(config: ReplayConfig, args: argparse.Namespace) -> Report:
    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    say = None if args.quiet else progress
    events = [Path(e) for e in getattr(args, "events", None) or []]
    if say is not None:
        what = f"{len(events)} event file(s)" if events else f"the demo world {config.world}"
        say(f"replaying {what} through {config.template} with policy {config.policy}")
    return replay_files(config, events, say) if events else replay_demo(config, say)


def _print_report(report: Report, as_json: bool, out: TextIO) -> None:
    if as_json:
        for line in json_lines(report):
            print(line, file=out)
    else:
        print(render_text(report), file=out)


def _print_changes(
    changes: Sequence[Change], old: Path, new: Path, as_json: bool, out: TextIO
) -> None:
    if as_json:
        for change in changes:
            print(json.dumps({"kind": "decision-change", **asdict(change)}), file=out)
        return
    print(f"\nDecisions that change from {old} to {new}: {len(changes) or 'none'}", file=out)
    for change in changes:
        before = _decision(change.before, change.rule_before)
        after = _decision(change.after, change.rule_after)
        print(f"  {change.endpoint_id} ({change.account}): {before} -> {after}", file=out)


def _decision(decision: str | None, rule: str | None) -> str:
    return f"{decision or 'none'}" + (f" (rule {rule})" if rule else "")
