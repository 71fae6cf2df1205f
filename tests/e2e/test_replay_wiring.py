"""The replay's wiring is template.yaml's: break a rule there, and the replay breaks with it.

And parity: the decision a request gets through the whole replayed chain (notification, Ingest,
bus, rule, queue, batch) is the one the Decide handler makes when it is called directly.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from replay_helpers import DEMO_POLICY, REPOSITORY, TEMPLATE, WORLD, acceptor_config

from acceptor_tools.local_aws import LocalAws
from acceptor_tools.replay.deploy import deploy
from acceptor_tools.replay.local import (
    LOCAL_PARAMETERS,
    STACK,
    ProviderAccount,
    local_replay,
)
from acceptor_tools.replay.template import load_app
from helpers.aws import LambdaContext

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.disable_socket]

REQUESTED = "Endpoint Connection Requested"
# Fields of a decision record that differ between any two decisions: when it was made, for
# which delivery of the request, and when the endpoint was created (once in each local AWS).
VOLATILE = {"decided_at", "expires_at", "correlation_id", "created_at"}


def _copy_of_template(folder: Path, text: str) -> Path:
    """template.yaml's text in `folder`, with the folders its CodeUri and layer name."""
    for name in ("functions", "policies"):
        (folder / name).symlink_to(REPOSITORY / name)
    copy = folder / "template.yaml"
    copy.write_text(text)
    return copy


def test_broken_decide_rule_pattern_leaves_the_request_unrouted_and_undecided(
    tmp_path: Path,
) -> None:
    text = TEMPLATE.read_text()
    decide_rule = text.index("  DecideRule:")
    pattern = re.compile(r"detail-type: \[Endpoint Connection Requested\]")
    assert pattern.search(text, decide_rule), "DecideRule's pattern moved: update this test"
    broken = text[:decide_rule] + pattern.sub(
        "detail-type: [Endpoint Connection Request]", text[decide_rule:], count=1
    )
    config = acceptor_config(tmp_path / "outbox", template=_copy_of_template(tmp_path, broken))

    with local_replay(config) as replay:
        (endpoint,) = replay.aws.create_endpoints(["payments-orders"])
        log = replay.session.run()
        state = replay.aws.client("ec2").describe_vpc_endpoint_connections(
            Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint.id]}]
        )["VpcEndpointConnections"][0]["VpcEndpointState"]

    assert log.quiet
    assert [e.detail_type for e in log.unrouted] == [REQUESTED]
    assert log.unrouted[0].event["detail"]["endpoint_id"] == endpoint.id
    # Reconcile: the stack's first sweep at deploy (it found nothing pending yet).
    assert {i.function for i in log.invocations} == {"ReconcileFunction", "IngestFunction"}
    assert state == "pendingAcceptance"


def test_unbroken_template_routes_the_same_request_to_decide(tmp_path: Path) -> None:
    config = acceptor_config(
        tmp_path / "outbox", template=_copy_of_template(tmp_path, TEMPLATE.read_text())
    )

    with local_replay(config) as replay:
        replay.aws.create_endpoints(["payments-orders"])
        log = replay.session.run()

    requested = [e for e in log.bus_events.values() if e.detail_type == REQUESTED]
    assert [e.delivered_to for e in requested] == [["DecideFunction"]]


def test_request_decided_through_the_replay_and_by_the_handler_directly_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the decision record the replayed chain writes for a new endpoint
    with local_replay(acceptor_config(tmp_path / "outbox")) as replay:
        (endpoint,) = replay.aws.create_endpoints(["payments-orders"])
        log = replay.session.run()
        replayed = _decision_records(replay.aws, replay.session.app.tables["DecisionTable"].name)
    (request,) = [e.event for e in log.bus_events.values() if e.detail_type == REQUESTED]

    # When the same request reaches the Decide handler directly, on the same world
    with _stack_without_replay(monkeypatch) as (aws, table):
        aws.create_endpoints(["payments-orders"])
        response = _call_decide(_sqs_event(request), aws)
        direct = _decision_records(aws, table)

    # Then both decided the same, for the same reasons, with the same effect
    assert response == {"batchItemFailures": []}
    assert [r["endpoint_id"] for r in replayed] == [endpoint.id]
    assert replayed[0]["decision"] == "accept"
    assert len(direct) == len(replayed)
    differences = {
        key: (direct[0].get(key), replayed[0].get(key))
        for key in direct[0].keys() | replayed[0].keys()
        if direct[0].get(key) != replayed[0].get(key)
    }
    assert differences == {}


def _decision_records(aws: LocalAws, table: str) -> list[dict[str, Any]]:
    """Decide's records (the table also logs what SecurityGroups did, kind `security-groups`)."""
    items = aws.client("dynamodb").scan(TableName=table)["Items"]
    plain = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in items]
    return [
        {k: v for k, v in record.items() if k not in VOLATILE}
        for record in sorted(plain, key=lambda r: (r["endpoint_id"], r["decided_at"]))
        if record.get("kind") == "decision"
    ]


@contextmanager
def _stack_without_replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalAws, str]]:
    """The template's resources in a fresh local AWS, and the Decide function's environment set
    in this process; nothing of the replay's delivery or execution environments is used."""
    with LocalAws(WORLD) as aws:
        world = aws.world
        managed = [s.id for s in world.services.values() if s.acceptance_required]
        app = load_app(
            TEMPLATE,
            account=world.provider_account,
            region=world.region,
            stack=STACK,
            parameter_overrides={**LOCAL_PARAMETERS, "ManagedServiceIds": ",".join(managed)},
        )
        deploy(app, ProviderAccount(aws))
        decide = app.functions["DecideFunction"]
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            monkeypatch.delenv(name)
        variables: Mapping[str, str] = {
            **decide.environment,
            **aws.env(),
            "POLICY_PATH": str(DEMO_POLICY),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": decide.name,
        }
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        yield aws, app.tables["DecisionTable"].name


def _sqs_event(request: Mapping[str, Any]) -> dict[str, Any]:
    body = json.dumps(request)
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "direct",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1717000000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1717000000000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:999988887777:decide",
                "awsRegion": "us-east-1",
            }
        ]
    }


def _call_decide(event: dict[str, Any], aws: LocalAws) -> Any:
    from acceptor.aws.clients import use_clients
    from acceptor.handlers import decide
    from acceptor.policy.loader import cached_policy

    # This process may have decided before, with other clients and another policy.
    use_clients(None)
    cached_policy.cache_clear()
    try:
        return decide.handler(
            event, LambdaContext(function_name="decide-direct", remaining_ms=120_000)
        )
    finally:
        use_clients(None)
        cached_policy.cache_clear()
