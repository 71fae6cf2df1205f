"""A sweep of 5,000 pending connections (10 services, 200 consumer accounts) on the local AWS.

The real Reconcile handler lists the pending connections and puts Requested events; the real
Decide handler decides them in the batches the Decide queue would hand it (template.yaml's
BatchSize, within Lambda's 6 MB payload), reading the consumers' facts through the consumer
role, accepting and rejecting per service, recording and publishing. Every AWS call is counted
by action (botocore hooks on every session the handlers build), beside the naive count of one
describe and one accept per connection. Peak memory is the sweep's (tracemalloc, in-process:
the local AWS's own objects count too). The infrastructure is seeded through the local AWS's
world loader; the 5,000 endpoints are created directly in its EC2 backend (the extension
records their connections there), which is what keeps the set-up short.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Literal

from acceptor.aws import clients as clients_module
from acceptor.aws.clients import AwsClients, use_clients
from acceptor.flows.telemetry import logger
from acceptor.handlers import decide, reconcile
from acceptor.policy.loader import cached_policy
from acceptor_tools.local_aws import LocalAws
from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.world import World

SERVICES = 10
ACCOUNTS = 200
PER_ACCOUNT = 25  # 200 x 25 = 5,000 connections
PROVIDER = "999988887777"
REGION = "us-east-1"
BUS = "privatelink-acceptor"
DECISION_TABLE = "bench-decisions"
IDEMPOTENCY_TABLE = "bench-idempotency"
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
SQS_MAX_BATCH = 10_000
TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"

# Every fourth account is a sandbox (rejected); the accounts named below have no rule (held).
POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: prod
    decision: accept
    when: {tags: {env: prod}, accounts: [%s]}
  - name: sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
"""


def account_id(index: int) -> str:
    return f"{100000000000 + index:012d}"


def environment(index: int) -> str:
    return "sandbox" if index % 4 == 0 else "prod"


def world() -> World:
    return World.model_validate(
        {
            "version": 1,
            "region": REGION,
            "seed": 5000,
            "provider": {
                "account": PROVIDER,
                "vpcs": [
                    {
                        "name": "provider",
                        "cidr": "10.0.0.0/16",
                        "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}],
                    }
                ],
                "load_balancers": [
                    {"name": f"nlb-{i}", "vpc": "provider", "subnets": ["a"]}
                    for i in range(SERVICES)
                ],
                "services": [
                    {
                        "name": f"service-{i}",
                        "load_balancers": [f"nlb-{i}"],
                        "tags": {"privatelink-acceptor:managed": "true"},
                    }
                    for i in range(SERVICES)
                ],
            },
            "accounts": [
                {
                    "account": account_id(i),
                    "name": f"consumer-{i}",
                    "vpcs": [
                        {
                            "name": "main",
                            "cidr": f"10.{1 + i // 250}.{i % 250}.0/24",
                            "tags": {"env": environment(i)},
                            "subnets": [{"name": "a", "cidr": f"10.{1 + i // 250}.{i % 250}.0/25"}],
                        }
                    ],
                }
                for i in range(ACCOUNTS)
            ],
        }
    )


def create_connections(aws: LocalAws) -> int:
    services = list(aws.world.services.values())
    created = 0
    for index in range(ACCOUNTS):
        vpc = aws.world.vpc(account_id(index), "main")
        backend = moto.ec2_backend(account_id(index), REGION)
        for n in range(PER_ACCOUNT):
            service = services[(index + n) % SERVICES]
            backend.create_vpc_endpoint(
                vpc_id=vpc.id,
                service_name=service.service_name,
                endpoint_type="Interface",
                policy_document=None,
                route_table_ids=[],
                subnet_ids=list(vpc.subnets.values()),
                tags={"env": environment(index)},
            )
            created += 1
    return created


@dataclass
class Counts:
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(role, action) -> calls; role is `function` or `consumer`."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """The PutEvents entries of the Requested events, for the Decide queue."""
    recording: bool = False

    def hook(self, role: str) -> Any:
        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            if not self.recording:
                return
            action = f"{model.service_model.signing_name}:{model.name}"
            self.calls[(role, action)] += 1
            if action == "events:PutEvents":
                self.entries.extend(
                    e for e in params["Entries"] if e["DetailType"].endswith("Requested")
                )

        return record


@contextmanager
def counted_consumer_sessions(counts: Counts) -> Iterator[None]:
    """Count calls made through assumed roles too: every session `new_session` builds."""
    original = clients_module.new_session

    def counting(**arguments: Any) -> Any:
        session = original(**arguments)
        session.events.register("before-parameter-build", counts.hook("consumer"))
        return session

    clients_module.new_session = counting
    try:
        yield
    finally:
        clients_module.new_session = original


def _warnings_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextmanager
def quiet_decisions() -> Iterator[None]:
    """Thousands of decision log lines would drown the figures; warnings still show."""
    logger.addFilter(_warnings_only)
    try:
        yield
    finally:
        logger.removeFilter(_warnings_only)


@contextmanager
def function_environment(policy_dir: str) -> Iterator[None]:
    variables = {
        "MANAGED_SERVICE_IDS": "",
        "DRY_RUN": "false",
        "POLICY_PATH": policy_dir,
        "EVENT_BUS_NAME": BUS,
        "DECISION_TABLE": DECISION_TABLE,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "CONSUMER_ROLE_NAME": "PrivateLinkAcceptorRead",
        "CONSUMER_ROLE_EXTERNAL_ID": "bench",
        "ORGANIZATIONS_ACCESS": "false",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def provision(clients: AwsClients, services: list[str]) -> None:
    clients.events().create_event_bus(Name=BUS)
    dynamodb = clients.dynamodb()
    tables: tuple[tuple[str, list[tuple[str, Literal["HASH", "RANGE"]]]], ...] = (
        (DECISION_TABLE, [("endpoint_id", "HASH"), ("decided_at", "RANGE")]),
        (IDEMPOTENCY_TABLE, [("id", "HASH")]),
    )
    for table, keys in tables:
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    os.environ["MANAGED_SERVICE_IDS"] = ",".join(services)


def template_batch_size() -> tuple[int, str]:
    override = os.environ.get("BENCH_DECIDE_BATCH_SIZE")
    if override:
        return int(override), "BENCH_DECIDE_BATCH_SIZE"
    if TEMPLATE.exists():
        decode: Any = importlib.import_module("cfnlint.decode").decode  # cfn-lint has no types
        decoded, _ = decode(str(TEMPLATE))
        mapping = decoded["Resources"].get("DecideFunctionRequested", {})
        if "BatchSize" in mapping.get("Properties", {}):
            return int(mapping["Properties"]["BatchSize"]), "template.yaml"
    return SQS_MAX_BATCH, "SQS's maximum (template.yaml sets none)"


def sqs_batches(entries: list[dict[str, Any]], batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """The Decide queue's view: each entry as EventBridge delivers it, in Lambda's SQS event,
    at most `batch_size` records and 6 MB a batch."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        body = json.dumps(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": PROVIDER,
                "time": "2025-03-04T10:15:00Z",
                "region": REGION,
                "resources": [],
                "detail": json.loads(entry["Detail"]),
            }
        )
        record = {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "bench",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1741083300000",
                "SenderId": "AIDAEVENTBRIDGE",
                "ApproximateFirstReceiveTimestamp": "1741083300000",
            },
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{PROVIDER}:DecideQueue",
            "awsRegion": REGION,
        }
        record_size = len(json.dumps(record))
        if batch and (len(batch) >= batch_size or size + record_size > LAMBDA_PAYLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record_size
    if batch:
        yield batch


@dataclass
class Context:
    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{PROVIDER}:function:bench"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def report(counts: Counts, connections: int, timings: dict[str, float], peak: int) -> None:
    print(f"connections: {connections} over {SERVICES} services and {ACCOUNTS} accounts")
    print(f"{'role':<10} {'action':<48} {'calls':>7}")
    for (role, action), calls in sorted(counts.calls.items()):
        print(f"{role:<10} {action:<48} {calls:>7}")
    acting = sum(
        n
        for (role, action), n in counts.calls.items()
        if "VpcEndpointConnections" in action
        and action.split(":")[1].startswith(("Accept", "Reject"))
    )
    describes = counts.calls[("function", "ec2:DescribeVpcEndpointConnections")]
    consumer = sum(n for (role, _), n in counts.calls.items() if role == "consumer")
    assumed = counts.calls[("function", "sts:AssumeRole")]
    print()
    print(f"{'':<34} {'this sweep':>12} {'naive':>8}")
    print(f"{'DescribeVpcEndpointConnections':<34} {describes:>12} {connections:>8}")
    print(f"{'Accept/RejectVpcEndpointConnections':<34} {acting:>12} {connections:>8}")
    print(f"{'total of the two':<34} {describes + acting:>12} {2 * connections:>8}")
    print(
        f"accept/reject calls per service: {acting / SERVICES:.1f} "
        f"(goal: at most 2) -> {'met' if acting <= 2 * SERVICES else 'NOT met'}"
    )
    print(
        f"consumer lookups: {assumed} AssumeRole + {consumer} calls through the role for "
        f"{ACCOUNTS} accounts ({(assumed + consumer) / ACCOUNTS:.1f} per account)"
    )
    for name, seconds in timings.items():
        print(f"{name:<34} {seconds:>10.1f} s")
    print(f"{'peak memory of the sweep':<34} {peak / 1e6:>10.1f} MB")


def main() -> None:
    counts = Counts()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with (
        TemporaryDirectory() as folder,
        LocalAws(world()) as aws,
        counted_consumer_sessions(counts),
        quiet_decisions(),
    ):
        accounts = ",".join(f'"{account_id(i)}"' for i in range(ACCOUNTS) if i % 10)
        Path(folder, "acceptor.yaml").write_text(POLICY % accounts)
        connections = create_connections(aws)
        session = aws.session()
        session.events.register("before-parameter-build", counts.hook("function"))
        provider = AwsClients(session)
        with function_environment(folder):
            provision(provider, [s.id for s in aws.world.services.values()])
            cached_policy.cache_clear()
            use_clients(provider)
            timings["set-up (not measured below)"] = time.perf_counter() - started
            counts.recording = True

            tracemalloc.start()
            begun = time.perf_counter()
            with redirect_stdout(io.StringIO()):  # the metrics Lambda would ship as EMF
                reconcile.handler(
                    {
                        "version": "0",
                        "id": "bench-sweep",
                        "detail-type": "Scheduled Event",
                        "source": "aws.events",
                        "account": PROVIDER,
                        "time": "2025-03-04T10:15:00Z",
                        "region": REGION,
                        "resources": [],
                        "detail": {},
                    },
                    Context("ReconcileFunction"),
                )
            timings["Reconcile (under tracemalloc)"] = time.perf_counter() - begun
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

            batch_size, source = template_batch_size()
            batches = list(sqs_batches(counts.entries, min(batch_size, SQS_MAX_BATCH)))
            begun = time.perf_counter()
            failed = 0
            for batch in batches:
                with redirect_stdout(io.StringIO()):  # the metrics Lambda would ship as EMF
                    response = decide.handler({"Records": batch}, Context("DecideFunction"))
                failed += len(response["batchItemFailures"])
            timings[f"Decide ({len(batches)} batches of up to {batch_size}, {source})"] = (
                time.perf_counter() - begun
            )
            counts.recording = False
            use_clients(None)
        report(counts, connections, timings, peak)
        if failed:
            print(f"records that failed and would be retried: {failed}")
