"""The cost of loading a large policy, and the generators of the policy benchmarks.

A 1,000-rule policy (rules over 500 accounts, VPCs, OUs and tags; accept, reject and hold) is
written as YAML and loaded with the real loader. Seeded: every run measures the same work.
Decisions per second are `bench_decide`'s: the full path Decide runs, not `evaluate` alone.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from acceptor.policy.facts import Facts
from acceptor.policy.loader import load_policy

SEED = 20240601
SERVICE = "vpce-svc-0123456789abcdef0"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
FACT_SETS = 10_000
NAIVE_FACT_SETS = 500
RUNS = 5


@dataclass(frozen=True)
class Universe:
    accounts: tuple[str, ...]
    vpcs: tuple[str, ...]
    endpoints: tuple[str, ...]
    ous: tuple[str, ...]
    teams: tuple[str, ...]


def make_universe(rng: random.Random) -> Universe:
    def hex_id(prefix: str) -> str:
        return prefix + "".join(rng.choices("0123456789abcdef", k=17))

    return Universe(
        accounts=tuple(f"{rng.randrange(10**11, 10**12):012d}" for _ in range(500)),
        vpcs=tuple(hex_id("vpc-") for _ in range(300)),
        endpoints=tuple(hex_id("vpce-") for _ in range(200)),
        ous=tuple(f"ou-ab12-{rng.randrange(16**8):08x}" for _ in range(150)),
        teams=tuple(f"team-{n}" for n in range(100)),
    )


def make_rule(rng: random.Random, name: str, u: Universe) -> dict[str, Any]:
    decision = rng.choices(("accept", "reject", "hold"), weights=(75, 15, 10))[0]
    shape = rng.choices(("account", "ou", "vpc", "tag", "endpoint"), weights=(60, 15, 10, 10, 5))[0]
    when: dict[str, Any]
    if shape == "account":
        when = {"accounts": rng.sample(u.accounts, rng.randint(1, 3))}
        if rng.random() < 0.3:
            when["regions"] = rng.sample(REGIONS, 2)
        if rng.random() < 0.3:
            when["tags"] = {"env": rng.choice(["prod", "staging", "*"])}
        if rng.random() < 0.1:
            when["vpcs"] = rng.sample(u.vpcs, 2)
    elif shape == "ou":
        when = {"organizational_units": rng.sample(u.ous, rng.randint(1, 2))}
        if rng.random() < 0.5:
            when["vpc_tags"] = {"tier": rng.choice(["private", "public"])}
    elif shape == "vpc":
        when = {"vpcs": rng.sample(u.vpcs, rng.randint(1, 3))}
    elif shape == "tag":
        when = {"tags": {"team": rng.sample(u.teams, rng.randint(1, 2))}}
    else:
        when = {"endpoints": rng.sample(u.endpoints, rng.randint(1, 4))}
    return {"name": name, "decision": decision, "when": when}


def make_policy_file(rng: random.Random, rules: int, u: Universe) -> dict[str, Any]:
    return {
        "version": 1,
        "services": [SERVICE],
        "default": "hold",
        "rules": [make_rule(rng, f"rule-{n:04d}", u) for n in range(rules)],
    }


def make_facts(rng: random.Random, u: Universe) -> Facts:
    no_role = rng.random() < 0.2
    no_org = rng.random() < 0.1
    known_account = rng.random() < 0.9
    tags = {"env": rng.choice(["prod", "staging", "sandbox"])}
    if rng.random() < 0.5:
        tags["team"] = rng.choice(u.teams)
    reasons = {}
    if no_role:
        reasons = dict.fromkeys(("vpc_id", "tags", "vpc_tags"), "no consumer role configured")
    if no_org:
        reasons["ou_path"] = "no Organizations access"
    return Facts(
        service_id=SERVICE,
        endpoint_id=rng.choice(u.endpoints) if rng.random() < 0.3 else "vpce-0a1b2c3d4e5f60718",
        account=rng.choice(u.accounts) if known_account else f"{rng.randrange(10**12):012d}",
        region=rng.choice(REGIONS),
        vpc_id=None if no_role else rng.choice(u.vpcs),
        tags=None if no_role else tags,
        vpc_tags=None if no_role else {"tier": rng.choice(["private", "public"])},
        ou_path=None if no_org else ("r-ab12", rng.choice(u.ous)),
        unknown_reasons=reasons,
    )


def _median_seconds(work: Callable[[], object], runs: int) -> float:
    # CPU time of this process, not wall time: the figure is about one core's throughput, and
    # other work on a shared machine (tests, other benchmarks) then distorts it much less.
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class Row:
    label: str
    rules: int
    load_ms: float


def measure(rules: int, seed: int = SEED) -> Row:
    rng = random.Random(seed)
    universe = make_universe(rng)
    content = make_policy_file(rng, rules, universe)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        load_s = _median_seconds(lambda: load_policy([path]), RUNS)
    return Row(label=f"{rules}-rule policy", rules=rules, load_ms=load_s * 1000)


def main() -> None:
    rows = [measure(1000), measure(10)]
    print(f"Median CPU time of {RUNS} loads (read, parse, validate).")
    table = [("policy", "load+validate")] + [(row.label, f"{row.load_ms:,.1f} ms") for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(2)]
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
