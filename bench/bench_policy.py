"""Decisions per second of the policy engine, and the cost of loading a large policy.

A 1,000-rule policy (rules over 500 accounts, VPCs, OUs and tags; accept, reject and hold) is
written as YAML, loaded with the real loader, then decides 10,000 random requests, a fifth of
them without the consumer role (VPC and tags unknown). Seeded: every run measures the same work.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from acceptor.policy.evaluate import Evaluator, evaluate_naive
from acceptor.policy.facts import Facts
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet

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
    first_pass_ms: float
    indexed_per_s: float
    naive_per_s: float


def measure(rules: int, seed: int = SEED) -> Row:
    rng = random.Random(seed)
    universe = make_universe(rng)
    content = make_policy_file(rng, rules, universe)
    facts = [make_facts(rng, universe) for _ in range(FACT_SETS)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        load_s = _median_seconds(lambda: load_policy([path]), RUNS)
        policy = load_policy([path])
    evaluator = Evaluator(policy)
    # The first pass compiles: an index per service and per shape of unknown facts. A Lambda
    # execution environment pays that once, then decides with the compiled index.
    compile_s = _median_seconds(lambda: _decide_all(evaluator.evaluate, facts), 1)
    indexed_s = _median_seconds(lambda: _decide_all(evaluator.evaluate, facts), RUNS)
    sample = facts[:NAIVE_FACT_SETS]
    naive_s = _median_seconds(
        lambda: _decide_all(lambda f: evaluate_naive(policy, f), sample), max(1, RUNS // 2)
    )
    _check_agreement(policy, sample)
    return Row(
        label=f"{rules}-rule policy",
        rules=rules,
        load_ms=load_s * 1000,
        first_pass_ms=compile_s * 1000,
        indexed_per_s=len(facts) / indexed_s,
        naive_per_s=len(sample) / naive_s,
    )


def _decide_all(decide: Callable[[Facts], object], facts: Sequence[Facts]) -> None:
    for one in facts:
        decide(one)


def _check_agreement(policy: PolicySet, facts: Sequence[Facts]) -> None:
    evaluator = Evaluator(policy)
    for one in facts:
        if evaluator.evaluate(one) != evaluate_naive(policy, one):
            raise AssertionError(f"indexed and naive evaluations differ for {one}")


def main() -> None:
    rows = [measure(1000), measure(10)]
    print(
        f"{FACT_SETS:,} random requests per run, 20% without the consumer role. Figures: median\n"
        f"CPU time of {RUNS} runs, after a first pass that compiles the index; the naive scan\n"
        f"decides the first {NAIVE_FACT_SETS} requests only."
    )
    header = (
        "policy",
        "load+validate",
        "first pass",
        "indexed decisions/s",
        "naive decisions/s",
        "speed-up",
    )
    table = [header] + [
        (
            row.label,
            f"{row.load_ms:,.1f} ms",
            f"{row.first_pass_ms:,.0f} ms",
            f"{row.indexed_per_s:,.0f}",
            f"{row.naive_per_s:,.0f}",
            f"{row.indexed_per_s / row.naive_per_s:,.1f}x",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
