"""`acceptor replay` and `acceptor policy diff`.

Exit codes: 0 the replay ran to quiet (and, for `policy diff`, no decision changed); 1 the
inputs were refused (template, world, policy or event file), the application did not become
quiet within the limits, or (`policy diff`) some decision changed or a replay had failed calls;
2 usage errors (a path that does not exist); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
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


# What one run writes into --outbox (docs/replay.md, "The outbox folder"): emptied at the start
# of every run, so the folder always holds the last run's messages and logs only.
OUTBOX_RUN_FOLDERS = ("logs", "baseline", "old", "new")
OUTBOX_MESSAGES = "[0-9][0-9][0-9]-*.txt"


class Counter:
    """What a run has done so far, for the line printed when it is interrupted."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.calls = 0

    def summary(self, command: str) -> str:
        seconds = time.monotonic() - self.started
        return (
            f"acceptor {command}: interrupted (Ctrl-C) after {seconds:.1f} s and "
            f"{self.calls} function calls; no report (the local AWS is gone with the run)"
        )


def replay_command(args: argparse.Namespace) -> int:
    paths = [args.policy, *args.events, *([args.diff] if args.diff else [])]
    if not _paths_exist("replay", [*paths, args.world, args.template]):
        return 2
    counter = Counter()
    try:
        reset_outbox(Path(args.outbox))
        config = _config(args, Path(args.policy))
        report = _play(config, args, counter, demo_extras=not args.diff)
        if args.diff:
            baseline = _config(args, Path(args.diff), outbox=Path(args.outbox) / "baseline")
            old = _play(baseline, args, counter, demo_extras=False)
            changes = decision_changes(old, report)
    except REFUSALS as err:
        print(f"acceptor replay: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(counter.summary("replay"), file=sys.stderr)
        return 130
    _print_report(report, args.json, sys.stdout)
    if args.diff:
        broken = _broken("replay", {Path(args.diff): old, Path(args.policy): report})
        if broken:
            return 1
        _print_changes(changes, Path(args.diff), Path(args.policy), args.json, sys.stdout)
    return 0 if report.log.quiet else 1


def policy_diff_command(args: argparse.Namespace) -> int:
    if not _paths_exist(
        "policy diff", [args.old, args.new, *args.events, args.world, args.template]
    ):
        return 2
    counter = Counter()
    try:
        reset_outbox(Path(args.outbox))
        old_config = _config(args, Path(args.old), outbox=Path(args.outbox) / "old")
        new_config = _config(args, Path(args.new), outbox=Path(args.outbox) / "new")
        old = _play(old_config, args, counter, demo_extras=False)
        new = _play(new_config, args, counter, demo_extras=False)
    except REFUSALS as err:
        print(f"acceptor policy diff: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(counter.summary("policy diff"), file=sys.stderr)
        return 130
    if _broken("policy diff", {Path(args.old): old, Path(args.new): new}):
        return 1
    changes = decision_changes(old, new)
    _print_changes(changes, Path(args.old), Path(args.new), args.json, sys.stdout)
    return 1 if changes else 0


def _paths_exist(command: str, paths: Sequence[str]) -> bool:
    """Checked before anything runs, as `policy check` does (exit 2)."""
    missing = [path for path in paths if not Path(path).exists()]
    for path in missing:
        print(f"acceptor {command}: {path}: no such file or folder", file=sys.stderr)
    return not missing


def _broken(command: str, reports: dict[Path, Report]) -> bool:
    """A replay whose functions failed, or that never became quiet, decided less than it
    should have: its decisions cannot be compared (fail loudly, never report a change)."""
    broken = False
    for policy, report in reports.items():
        problems = []
        if report.failed_calls:
            failed = sorted({call.function for call in report.failed_calls})
            problems.append(f"{len(report.failed_calls)} failed calls ({', '.join(failed)})")
        if report.dead_letters:
            problems.append(f"{len(report.dead_letters)} dead letters")
        if not report.log.quiet:
            problems.append("it did not become quiet within the limits")
        if problems:
            broken = True
            print(
                f"acceptor {command}: the replay with {policy} is not comparable: "
                f"{'; '.join(problems)} (logs in its outbox folder, docs/replay.md)",
                file=sys.stderr,
            )
    return broken


def reset_outbox(outbox: Path) -> None:
    """Remove what an earlier run wrote (its messages, logs and diff folders), nothing else."""
    for folder in (outbox, *(outbox / name for name in ("baseline", "old", "new"))):
        for message in folder.glob(OUTBOX_MESSAGES):
            message.unlink()
    for name in OUTBOX_RUN_FOLDERS:
        if (outbox / name).is_dir():
            shutil.rmtree(outbox / name)


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


def _play(
    config: ReplayConfig, args: argparse.Namespace, counter: Counter, *, demo_extras: bool
) -> Report:
    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    def plumbing(line: str) -> None:
        counter.calls += " <- " in line
        if args.verbose and not args.quiet:
            print(f"    {line}", file=sys.stderr, flush=True)

    say = None if args.quiet else progress
    events = [Path(e) for e in getattr(args, "events", None) or []]
    if say is not None:
        what = (
            f"{len(events)} event file(s)" if events else f"the story of the world {config.world}"
        )
        say(f"replaying {what} through {config.template} with policy {config.policy}")
    if events:
        return replay_files(config, events, say, plumbing)
    return replay_demo(config, say, plumbing, unreadable_message=demo_extras)


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
