"""Decide under faults (docs/architecture.md, "Intents"): 30% of every AWS call fails (a third
throttled, a third a server error, a third applied and then answered with a server error),
over 1,000 requests. Nothing is accepted wrongly, and every request ends decided, or
dead-lettered with a reason that names the real cause.

The queue is simulated: batches of `BATCH` requests, each failed request delivered again, up
to the Decide queue's `maxReceiveCount` (template.yaml: 5), then dead-lettered with the last
reason. Redeliveries come after the visibility timeout, which outlasts the function's timeout:
the invocation that claimed a request is over by then, so its in-progress claim has expired
(`remaining_ms` is tiny here for that reason).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from handlers_stack import DECISION_TABLE, Stack

from acceptor.aws.errors import AwsError
from acceptor.contract import RequestedDetail
from acceptor.decision.connection import PENDING
from acceptor.flows import wiring
from acceptor.flows.decide import decide_batch
from acceptor.settings import DecideSettings
from acceptor_tools.local_aws import FaultRule
from acceptor_tools.local_aws.moto_internals import ec2_backend

pytestmark = pytest.mark.slow

PAYMENTS, SANDBOX, PARTNER = "111122223333", "444455556666", "777788889999"
# `make test` runs 250 (a few minutes would not fit its budget); FAULT_RUN_REQUESTS=1000 runs
# the full figure docs/architecture.md quotes.
REQUESTS = int(os.environ.get("FAULT_RUN_REQUESTS", "250"))
BATCH = 250
MAX_RECEIVES = 5  # template.yaml, DecideQueue's RedrivePolicy
SEED = 30

POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333"], tags: {env: prod}}
  - name: no-sandboxes
    decision: reject
    when: {accounts: ["444455556666"]}
"""

# A reason names the failing AWS action and its code, or says what is not complete and why.
REAL_CAUSE = re.compile(
    r"^(\w+ failed: \w+: .+|not acted on: .+|claimed by an invocation that has not completed it"
    r".+|outputs not yet delivered|(accept|reject) still failing: .+)$"
)


def _create(stack: Stack) -> dict[str, tuple[str, str]]:
    """1,000 pending connections: endpoint ID -> (account, env tag)."""
    world = stack.aws.world
    services = [s for s in world.services.values() if s.acceptance_required]
    plan = [(PAYMENTS, "payments", "prod"), (PAYMENTS, "payments", "dev")]
    plan += [(SANDBOX, "sandbox", "sandbox"), (PARTNER, "partner", "prod")]
    created: dict[str, tuple[str, str]] = {}
    for index in range(REQUESTS):
        account, vpc_name, env = plan[index % len(plan)]
        vpc = world.vpc(account, vpc_name)
        endpoint = ec2_backend(account, world.region).create_vpc_endpoint(
            vpc_id=vpc.id,
            service_name=services[index % len(services)].service_name,
            endpoint_type="Interface",
            policy_document=None,
            route_table_ids=[],
            subnet_ids=list(vpc.subnets.values())[:1],
            tags={"env": env},
        )
        created[endpoint.id] = (account, env)
    return created


def _messages(stack: Stack) -> dict[str, str]:
    """SQS message ID -> body: one Requested event (origin sweep) per pending connection."""
    ec2 = stack.clients.ec2()
    bodies: dict[str, str] = {}
    for page in ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
        Filters=[{"Name": "vpc-endpoint-state", "Values": [PENDING]}]
    ):
        for found in page["VpcEndpointConnections"]:
            detail = RequestedDetail(
                service_id=found["ServiceId"],
                endpoint_id=found["VpcEndpointId"],
                account=found["VpcEndpointOwner"],
                region="us-east-1",
                state=found["VpcEndpointState"],
                created_at=found["CreationTimestamp"],
                origin="sweep",
                correlation_id="sweep-fault-run",
            )
            event = {
                "version": "0",
                "id": f"requested-{detail.endpoint_id}",
                "detail-type": "Endpoint Connection Requested",
                "source": "privatelink-acceptor",
                "account": stack.aws.world.provider_account,
                "time": "2025-03-04T10:00:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": detail.model_dump(mode="json"),
            }
            bodies[f"m-{detail.endpoint_id}"] = json.dumps(event)
    return bodies


def _invoke(stack: Stack, batch: list[tuple[str, str]]) -> dict[str, Exception]:
    """One Decide invocation over `batch`: the failed message IDs and why."""
    settings = DecideSettings.from_environ(os.environ)
    try:
        deps = wiring.decide_deps(settings, stack.clients_of("DecideFunction"), lambda: 1)
        outcome = decide_batch(
            batch, wiring.policy(settings), deps, dry_run=False, ttl=timedelta(days=30)
        )
    except AwsError as err:  # the whole invocation failed (e.g. the managed-service scan)
        return {message_id: err for message_id, _ in batch}
    return outcome.failures


def _records(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    items: dict[str, list[dict[str, Any]]] = {}
    pages = stack.clients.dynamodb().get_paginator("scan").paginate(TableName=DECISION_TABLE)
    for page in pages:
        for item in page["Items"]:
            if item.get("kind", {}).get("S") == "decision":
                items.setdefault(item["endpoint_id"]["S"], []).append(dict(item))
    return items


def test_faults_on_30_percent_of_every_call_accept_nothing_wrongly_and_lose_no_request(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's standard retries keep their attempts and what they retry; only the backoff
    # delays between attempts (time, not behaviour) are skipped, to fit the run in a minute.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    # Given 1,000 pending connections and a policy that accepts only payments' prod endpoints
    stack.policy(POLICY)
    created = _create(stack)
    waiting = _messages(stack)
    assert len(waiting) == REQUESTS
    wiring.reset_managed_cache()

    # When Decide takes them from the queue while 30% of every AWS call fails
    stack.aws.faults.configure(
        [
            FaultRule("*", "throttle", 0.1),
            FaultRule("*", "server_error", 0.1),
            FaultRule("*", "applied_then_5xx", 0.1),
        ],
        seed=SEED,
    )
    receives: Counter[str] = Counter()
    dead: dict[str, str] = {}
    while waiting:
        failed: dict[str, str] = {}
        pending_ids = list(waiting)
        for start in range(0, len(pending_ids), BATCH):
            batch = [(m, waiting[m]) for m in pending_ids[start : start + BATCH]]
            receives.update(m for m, _ in batch)
            wiring.reset_managed_cache()  # a new execution environment may serve each batch
            failed.update((m, str(e)) for m, e in _invoke(stack, batch).items())
        for message_id in list(waiting):
            if message_id not in failed:
                del waiting[message_id]
            elif receives[message_id] >= MAX_RECEIVES:
                dead[message_id] = failed[message_id]
                del waiting[message_id]
    injected = sum(stack.aws.faults.injected.values())
    seen = sum(stack.aws.faults.seen.values())
    stack.aws.faults.clear()

    # Then no connection is accepted that the policy does not accept
    states = {
        c["VpcEndpointId"]: c["VpcEndpointState"]
        for page in stack.clients.ec2()
        .get_paginator("describe_vpc_endpoint_connections")
        .paginate()
        for c in page["VpcEndpointConnections"]
    }
    accepted = {e for e, s in states.items() if s in ("pending", "available")}
    wrong = {e for e in accepted if created[e] != (PAYMENTS, "prod")}
    assert wrong == set()

    # And every request is decided (its record kept) or dead-lettered with the real cause
    records = _records(stack)
    decided = {m for m in (f"m-{e}" for e in created) if m[2:] in records}
    assert decided | set(dead) == {f"m-{e}" for e in created}
    for reason in dead.values():
        assert REAL_CAUSE.match(reason), reason
        assert "another invocation" not in reason
    # And nothing was silently turned into "ignore"; every accepted one has its accept record
    decisions = {e: [r["decision"]["S"] for r in rs] for e, rs in records.items()}
    assert not [e for e, ds in decisions.items() if "ignore" in ds]
    assert not [
        e for e in accepted if "accept" not in decisions.get(e, []) and f"m-{e}" not in dead
    ]
    assert not [e for e, ds in decisions.items() if len(ds) > 1 and len(set(ds)) > 1]

    by_reason = Counter(re.sub(r"^(\w+ failed: \w+).*", r"\1", r) for r in dead.values())
    print(
        f"\nfault run: {REQUESTS} requests, {seen} AWS calls seen, {injected} faults injected; "
        f"decided {len(decided)}, dead-lettered {len(dead)} {dict(by_reason)}, "
        f"wrong accepts {len(wrong)}, accepted {len(accepted)}"
    )
