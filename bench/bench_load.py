"""Policy load time: read, validate and build the PolicySet at 1,000 to 100,000 rules.

Generated policies (seeded, written to a temporary folder, never committed): rules over
accounts, regions, tags, OUs, VPCs and endpoints, as people write them. 100,000 rules are
loaded both as 100 files of 1,000 and as one file. Figures: median CPU time of 5 runs of
`load_policy`, with libyaml's C parser (what runs wherever PyYAML has it, Lambda included),
and with PyYAML's pure-Python parser, the fallback, where it takes less than a minute.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from acceptor.policy.loader import load_policy

SEED = 20240601
RUNS = 5
GOAL_RULES = 10_000
GOAL_SECONDS = 1.0
# (label, rules, files, also measure the pure-Python fallback)
CASES: tuple[tuple[str, int, int, bool], ...] = (
    ("1,000 rules, 1 file", 1_000, 1, True),
    ("10,000 rules, 1 file", 10_000, 1, True),
    ("100,000 rules, 100 files", 100_000, 100, False),
    ("100,000 rules, 1 file", 100_000, 1, False),
)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")


def _hex(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices("0123456789abcdef", k=17))


def make_rule(rng: random.Random, name: str) -> dict[str, Any]:
    decision = rng.choices(("accept", "reject", "hold"), weights=(75, 15, 10))[0]
    shape = rng.choices(("account", "ou", "vpc", "tag", "endpoint"), weights=(60, 15, 10, 10, 5))[0]
    when: dict[str, Any]
    if shape == "account":
        when = {"accounts": [f"{rng.randrange(10**12):012d}" for _ in range(rng.randint(1, 3))]}
        if rng.random() < 0.3:
            when["regions"] = rng.sample(REGIONS, 2)
        if rng.random() < 0.3:
            when["tags"] = {"env": rng.choice(["prod", "staging", "*"])}
    elif shape == "ou":
        when = {"organizational_units": [f"ou-ab12-{rng.randrange(16**8):08x}"]}
        if rng.random() < 0.5:
            when["vpc_tags"] = {"tier": rng.choice(["private", "public"])}
    elif shape == "vpc":
        when = {"vpcs": [_hex(rng, "vpc-") for _ in range(rng.randint(1, 3))]}
    elif shape == "tag":
        when = {"tags": {"team": [f"team-{rng.randrange(100)}" for _ in range(2)]}}
    else:
        when = {"endpoints": [_hex(rng, "vpce-") for _ in range(rng.randint(1, 4))]}
    rule: dict[str, Any] = {"name": name, "decision": decision, "when": when}
    if decision == "accept" and rng.random() < 0.1:
        rule["security_groups"] = {"consumer_endpoint": {"ports": [443]}}
    return rule


def write_policies(folder: Path, rules: int, files: int) -> None:
    rng = random.Random(SEED)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    per_file = rules // files
    for number in range(files):
        content = {
            "version": 1,
            "services": [_hex(rng, "vpce-svc-")],
            "default": "hold",
            "rules": [make_rule(rng, f"f{number}-r{n}") for n in range(per_file)],
        }
        text = yaml.dump(content, Dumper=dumper, sort_keys=False)
        (folder / f"policy-{number:03d}.yaml").write_text(text, encoding="utf-8")


@contextmanager
def pure_python_parser() -> Iterator[None]:
    """Make the loader take its fallback, as on a PyYAML built without libyaml."""
    had = yaml.__with_libyaml__
    yaml.__with_libyaml__ = False
    try:
        yield
    finally:
        yaml.__with_libyaml__ = had


def median_seconds(work: Callable[[], object]) -> float:
    # CPU time, not wall time: other work on a shared machine distorts it much less.
    times = []
    for _ in range(RUNS):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def measure(rules: int, files: int, fallback: bool) -> tuple[float, float | None, int]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_policies(folder, rules, files)
        size = sum(path.stat().st_size for path in folder.iterdir())
        policy = load_policy([folder])
        loaded = sum(len(document.model.rules) for document in policy.documents)
        if loaded != rules:
            raise AssertionError(f"loaded {loaded} rules of {rules}")
        libyaml = median_seconds(lambda: load_policy([folder]))
        python = None
        if fallback:
            with pure_python_parser():
                python = median_seconds(lambda: load_policy([folder]))
    return libyaml, python, size


def main() -> None:
    print(
        f"load_policy (read, validate, build the PolicySet): median CPU time of {RUNS} runs.\n"
        f"libyaml: {'yes' if yaml.__with_libyaml__ else 'no, PyYAML was built without it'}."
    )
    header = ("policy", "YAML size", "load (libyaml)", "load (pure Python)")
    table = [header]
    goal = None
    for label, rules, files, fallback in CASES:
        libyaml, python, size = measure(rules, files, fallback)
        if rules == GOAL_RULES and files == 1:
            goal = libyaml
        table.append(
            (
                label,
                f"{size / 1_000_000:,.1f} MB",
                f"{libyaml:,.2f} s",
                "-" if python is None else f"{python:,.2f} s",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    if goal is not None:
        verdict = "met" if goal <= GOAL_SECONDS else "NOT met"
        print(f"goal: {GOAL_RULES:,} rules in <= {GOAL_SECONDS:.0f} s: {verdict} ({goal:.2f} s)")


if __name__ == "__main__":
    main()
