"""Full decisions per second of `decide_one`, the function Decide runs, and the record sizes.

A full decision is what Decide does per request between its I/O stages: `decide_one`
(screening, the one-pass compiled evaluation, hold expiry) and the decision record it writes
(`decided_json` + `decision_record`, i.e. the Decided detail and the log item as JSON-ready
dicts). Policies of 10, 1,000 and 10,000 rules (accounts, OUs, VPCs, tags, endpoints; accept,
reject and hold) are generated in-process with `bench_policy`'s generators and validated with
the real model; 10,000 random requests decide per run, a fifth of them without the consumer
role (VPC and tags unknown). The largest record seen is its JSON size. Seeded.

This replaces the old "indexed decisions/s" figure, which timed `evaluate` alone: Decide never
ran that path by itself (it re-scanned the policy for the record), so it overstated Decide's
speed by two orders of magnitude at 1,000 rules.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from acceptor.contract import Action, RequestedDetail
from acceptor.decision.connection import PENDING, Connection
from acceptor.decision.decide_one import decide_one
from acceptor.decision.gather import RequestFacts
from acceptor.decision.record import decided_json, decision_record
from acceptor.decision.records import NO_RECORDS
from acceptor.policy.facts import Facts
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet
from bench.bench_policy import Universe, make_facts, make_policy_file

SEED = 20240601
REQUESTS = 10_000
RUNS = 5
SIZES = (10, 1_000, 10_000)
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
TTL = timedelta(days=400)
GOALS = {1_000: 100_000, 10_000: 50_000}


@dataclass(frozen=True)
class Request:
    request: RequestedDetail
    connection: Connection
    gathered: RequestFacts


@dataclass(frozen=True)
class Row:
    rules: int
    per_s: float
    largest_record: int
    listed: float
    """Matched or unknown rules per decision, on average."""


def requests_for(facts: Sequence[Facts], rng: random.Random) -> list[Request]:
    """What Decide's earlier stages hand `decide_one`: the request, the re-read connection and
    the gathered facts."""
    made = []
    for one in facts:
        assert one.endpoint_id is not None
        assert one.account is not None
        assert one.region is not None
        created = NOW - timedelta(hours=rng.randrange(0, 200))
        request = RequestedDetail(
            service_id=one.service_id,
            endpoint_id=one.endpoint_id,
            account=one.account,
            region=one.region,
            state=PENDING,
            created_at=created,
            origin="sweep",
            correlation_id="bench",
        )
        connection = Connection(
            one.service_id, one.endpoint_id, one.account, one.region, PENDING, created
        )
        made.append(Request(request, connection, RequestFacts(one, ("10.0.0.0/16",))))
    return made


def decide_all(policy: PolicySet, requests: Sequence[Request]) -> None:
    """Decide every request and build its record, as Decide does."""
    for one in requests:
        decision = decide_one(one.request, one.connection, one.gathered, NO_RECORDS, policy, NOW)
        detail = decided_json(
            decision,
            action=Action(type=decision.action, result="succeeded"),
            state_after=one.connection.state,
            dry_run=False,
            decided_at=NOW,
            policy_hash=policy.version_hash,
        )
        decision_record(detail, decision, NOW, TTL)


def largest_record_bytes(policy: PolicySet, requests: Sequence[Request]) -> int:
    largest = 0
    for one in requests:
        decision = decide_one(one.request, one.connection, one.gathered, NO_RECORDS, policy, NOW)
        detail = decided_json(
            decision,
            action=Action(type=decision.action, result="succeeded"),
            state_after=one.connection.state,
            dry_run=False,
            decided_at=NOW,
            policy_hash=policy.version_hash,
        )
        size = len(json.dumps(decision_record(detail, decision, NOW, TTL)).encode())
        largest = max(largest, size, len(json.dumps(detail).encode()))
    return largest


def make_universe(rng: random.Random, rules: int) -> Universe:
    """`bench_policy`'s universe (500 accounts, 300 VPCs, 200 endpoints, 150 OUs, 100 teams)
    up to 1,000 rules, grown with the rules past that: a 10,000-rule policy lists 5,000
    accounts, not 500 accounts 20 times over. `matched/unknown per decision` shows the load."""
    scale = max(1, rules // 1000)

    def hex_id(prefix: str) -> str:
        return prefix + "".join(rng.choices("0123456789abcdef", k=17))

    return Universe(
        accounts=tuple(f"{rng.randrange(10**11, 10**12):012d}" for _ in range(500 * scale)),
        vpcs=tuple(hex_id("vpc-") for _ in range(300 * scale)),
        endpoints=tuple(hex_id("vpce-") for _ in range(200 * scale)),
        ous=tuple(f"ou-ab12-{rng.randrange(16**8):08x}" for _ in range(150 * scale)),
        teams=tuple(f"team-{n}" for n in range(100 * scale)),
    )


def listed_rules(policy: PolicySet, one: Request) -> int:
    decision = decide_one(one.request, one.connection, one.gathered, NO_RECORDS, policy, NOW)
    return 0 if decision.evaluation is None else len(decision.evaluation.rules)


def measure(rules: int) -> Row:
    rng = random.Random(SEED)
    universe = make_universe(rng, rules)
    content = make_policy_file(rng, rules, universe)
    content["hold"] = {"expires_after": "72h"}
    document = PolicyDocument("policies/bench.yaml", PolicyFile.model_validate(content))
    policy = PolicySet.from_documents([document])
    requests = requests_for([make_facts(rng, universe) for _ in range(REQUESTS)], rng)
    decide_all(policy, requests)  # compiles the lookup tables, as a first invocation does
    times = []
    for _ in range(RUNS):
        # CPU time of this process: the figure is one core's throughput, and other work on a
        # shared machine distorts it much less than wall time.
        start = time.process_time()
        decide_all(policy, requests)
        times.append(time.process_time() - start)
    listed = statistics.mean(listed_rules(policy, one) for one in requests)
    return Row(
        rules, REQUESTS / statistics.median(times), largest_record_bytes(policy, requests), listed
    )


def main() -> None:
    rows = [measure(rules) for rules in SIZES]
    print(
        f"{REQUESTS:,} random requests per run, 20% without the consumer role; decide_one plus\n"
        f"the decision record. Median CPU time of {RUNS} runs, one core."
    )
    table = [
        ("policy", "matched/unknown per decision", "full decisions/s", "goal", "largest record")
    ]
    for row in rows:
        goal = GOALS.get(row.rules)
        table.append(
            (
                f"{row.rules:,} rules",
                f"{row.listed:,.1f}",
                f"{row.per_s:,.0f}",
                "-"
                if goal is None
                else f">= {goal:,} ({'met' if row.per_s >= goal else 'NOT met'})",
                f"{row.largest_record / 1024:,.1f} KB",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
