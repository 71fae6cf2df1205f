"""Decide's peak memory (RSS) for one batch of 5,000 requests over 1,000 consumer accounts.

Goal (docs/architecture.md, "Memory"): at most 256 MB, in a 512 MB function.

Each run is a fresh process that imports the Decide handler and hands it one SQS event of
5,000 Requested events (10 services; 5 endpoints in each of 1,000 consumer accounts, every
fourth a sandbox), with the consumer role configured, the decision and idempotency tables
set: the production path end to end, real boto3 clients included (one per assumed role).
AWS is `bench.fake_aws`, a stateless HTTP server in a process of its own reached through
botocore's `AWS_ENDPOINT_URL`; not moto, whose own objects would dominate the figure. The
figure is the run's peak RSS (`ru_maxrss`), the median of 5 runs.

The entry point is the handler (`acceptor.handlers.decide.handler`), so that the benchmark
follows whatever Decide's flow becomes behind it.
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.httpsession import DEFAULT_CA_BUNDLE

from acceptor.contract import SOURCE, DetailType
from bench import fake_aws

ACCOUNTS = 1_000
PER_ACCOUNT = 5
RUNS = int(os.environ.get("BENCH_MEMORY_RUNS", "5"))
GOAL_MB = 256
PROVIDER = "999988887777"
REGION = "us-east-1"
RUN_TIMEOUT_SECONDS = 1800

# Accept production accounts, reject sandboxes, hold the rest: every decision needs the tags.
POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: prod
    decision: accept
    when: {tags: {env: prod}}
  - name: sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
"""


def sqs_event() -> dict[str, Any]:
    records = []
    for account in range(ACCOUNTS):
        for index in range(PER_ACCOUNT):
            endpoint = fake_aws.endpoint_id(account, account * PER_ACCOUNT + index)
            detail = {
                "version": "1",
                "service_id": fake_aws.service_of(endpoint),
                "endpoint_id": endpoint,
                "account": fake_aws.account_id(account),
                "region": REGION,
                "state": "pendingAcceptance",
                "created_at": fake_aws.CREATED,
                "origin": "notification",
                "correlation_id": str(uuid.uuid4()),
            }
            body = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": DetailType.REQUESTED.value,
                "source": SOURCE,
                "account": PROVIDER,
                "time": "2026-01-01T00:00:00Z",
                "region": REGION,
                "resources": [],
                "detail": detail,
            }
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": "bench",
                    "body": json.dumps(body),
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1767225600000",
                        "SenderId": "AIDAEVENTBRIDGE",
                        "ApproximateFirstReceiveTimestamp": "1767225600000",
                    },
                    "messageAttributes": {},
                    "md5OfBody": "0" * 32,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{PROVIDER}:DecideQueue",
                    "awsRegion": REGION,
                }
            )
    return {"Records": records}


@dataclass
class Context:
    function_name: str = "DecideFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{PROVIDER}:function:DecideFunction"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def environment(endpoint_url: str, policy_dir: str) -> dict[str, str]:
    services = ",".join(fake_aws.service_id(n) for n in range(fake_aws.SERVICES))
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "MANAGED_SERVICE_IDS": services,
        "DRY_RUN": "false",
        "POLICY_PATH": policy_dir,
        "EVENT_BUS_NAME": "privatelink-acceptor",
        "DECISION_TABLE": "decisions",
        "IDEMPOTENCY_TABLE": "idempotency",
        "CONSUMER_ROLE_NAME": "PrivateLinkAcceptorRead",
        "CONSUMER_ROLE_EXTERNAL_ID": "bench",
        "ORGANIZATIONS_ACCESS": "false",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_SERVICE_NAME": "privatelink-acceptor",
        "POWERTOOLS_METRICS_NAMESPACE": "PrivateLinkAcceptor",
    }


def run_once() -> None:
    """One measured run, in this (fresh) process: prints a JSON line of figures."""
    event = sqs_event()
    from acceptor.handlers import decide  # after the event: not measured

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with redirect_stdout(io.StringIO()):  # the metrics Lambda would ship as EMF
        response = decide.handler(event, Context())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "peak_kb": peak,
                "before_kb": before,
                "seconds": seconds,
                "failed": len(response["batchItemFailures"]),
            }
        )
    )


def certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A self-signed certificate for the fake AWS, and a CA bundle of botocore's authorities
    plus it: every client loads a bundle of the usual size, as in Lambda."""
    cert, key, bundle = folder / "cert.pem", folder / "key.pem", folder / "bundle.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    system = Path(DEFAULT_CA_BUNDLE)  # what botocore trusts when AWS_CA_BUNDLE is unset
    bundle.write_text(system.read_text() + cert.read_text())
    return cert, key, bundle


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        cert, key, bundle = certificate(folder)
        (folder / "acceptor.yaml").write_text(POLICY)
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_aws", str(cert), str(key)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            runs = measure(server, folder, bundle)
        finally:
            server.terminate()
            server.wait(timeout=10)
    report(runs)


def measure(server: subprocess.Popen[str], folder: Path, bundle: Path) -> list[dict[str, Any]]:
    if server.stdout is None:
        raise RuntimeError("the fake AWS did not start")
    port = int(server.stdout.readline())
    env = {**environment(f"https://127.0.0.1:{port}", str(folder)), "AWS_CA_BUNDLE": str(bundle)}
    runs = []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-m", "bench.bench_memory", "--run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"a measured run failed:\n{done.stderr[-4000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def report(runs: list[dict[str, Any]]) -> None:
    count = len(runs)
    peak = statistics.median(r["peak_kb"] for r in runs) / 1024
    before = statistics.median(r["before_kb"] for r in runs) / 1024
    seconds = statistics.median(r["seconds"] for r in runs)
    failed = max(r["failed"] for r in runs)
    print(f"batch: {ACCOUNTS * PER_ACCOUNT} requests over {ACCOUNTS} consumer accounts")
    print(f"peak RSS before the batch (imports, event) {before:>8.1f} MB  (median of {count})")
    print(f"peak RSS of the run                        {peak:>8.1f} MB  (median of {count})")
    print(f"time of the batch                          {seconds:>8.1f} s   (median of {count})")
    print(f"goal: at most {GOAL_MB} MB -> {'met' if peak <= GOAL_MB else 'NOT met'}")
    if failed:
        print(f"records reported as failed (would be retried): {failed}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--run"]:
        run_once()
    else:
        main()
