"""`acceptor connections`: the operator's view of the managed services' connections.

For each connection: its state (DescribeVpcEndpointConnections), the last decision, its reason,
missing facts and approver (the decision log, read through its `by-service` index, newest
first, never scanned), its age, and when a hold turns into a reject (the policy's
`hold.expires_after`, read from `--policy`: the files the stack was built from).
Works with the user's own credentials against a deployed stack (`--stack`: the decision table
from its outputs) or the local AWS (`--endpoint-url`, `--decision-table`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.exceptions
from boto3.dynamodb.types import TypeDeserializer

from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.managed_services import EndpointServices
from acceptor.decision.connection import PENDING, Connection
from acceptor.decision.decide_one import hold_expires_at
from acceptor.managed import managed_scan
from acceptor.policy.errors import PolicyError
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet

INDEX = "by-service"
OUTPUT = "DecisionTableName"
STATES = ("pendingAcceptance", "pending", "available", "rejected", "expired", "failed")
_read = TypeDeserializer().deserialize


@dataclass(frozen=True)
class Row:
    service_id: str
    endpoint_id: str
    account: str
    state: str
    age_hours: float
    decision: str | None
    reason: str | None
    missing_facts: list[str]
    approved_by: str | None
    decided_at: str | None
    hold_expires_at: str | None


def connections_command(args: argparse.Namespace) -> int:
    try:
        policy = load_policy([args.policy])
    except PolicyError as err:
        print(f"acceptor: {err}", file=sys.stderr)
        return 2
    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        table = args.decision_table or _stack_output(session, args.stack, args.endpoint_url)
        ec2 = session.client("ec2", endpoint_url=args.endpoint_url)
        dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url)
        services = args.service or _services(ec2)
        reader = ProviderEc2(ec2, session.region_name or "us-east-1")
        found = rows(reader, dynamodb, table, services, policy, datetime.now(UTC))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        print(f"acceptor: {err}", file=sys.stderr)
        return 2
    except UsageError as err:
        print(f"acceptor: {err}", file=sys.stderr)
        return 2
    shown = [row for row in found if wanted(row, args.state)]
    if args.json:
        for row in shown:
            print(json.dumps(asdict(row)))
    else:
        print(render(shown))
    return 0


class UsageError(Exception):
    pass


def wanted(row: Row, state: str) -> bool:
    if state == "held":
        return row.state == PENDING and row.decision == "hold"
    if state == "pending":
        return row.state == PENDING
    return True


def rows(
    ec2: ProviderEc2,
    dynamodb: Any,
    table: str,
    services: Iterable[str],
    policy: PolicySet,
    now: datetime,
) -> list[Row]:
    found: list[Row] = []
    for service_id in services:
        connections = [c for state in STATES for c in ec2.list_connections(service_id, state)]
        wanted_ids = {c.endpoint_id for c in connections}
        last = latest_decisions(dynamodb, table, service_id, wanted_ids)
        for connection in sorted(connections, key=lambda c: c.created_at):
            found.append(_row(connection, last.get(connection.endpoint_id), policy, now))
    return found


def latest_decisions(
    dynamodb: Any, table: str, service_id: str, endpoint_ids: set[str]
) -> dict[str, Mapping[str, Any]]:
    """Each endpoint's newest decision record, from the `by-service` index (newest first;
    reading stops once every endpoint has one)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for item in _query(dynamodb, table, service_id):
        endpoint_id = str(item.get("endpoint_id"))
        if item.get("kind") == "decision" and endpoint_id not in latest:
            latest[endpoint_id] = item
        if endpoint_ids <= set(latest):
            break
    return latest


def _query(dynamodb: Any, table: str, service_id: str) -> Iterator[dict[str, Any]]:
    paginator = dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        IndexName=INDEX,
        KeyConditionExpression="decision_service_id = :s",
        ExpressionAttributeValues={":s": {"S": service_id}},
        ScanIndexForward=False,
    )
    for page in pages:
        for item in page.get("Items", []):
            yield {key: _read(value) for key, value in item.items()}


def _row(
    connection: Connection, last: Mapping[str, Any] | None, policy: PolicySet, now: datetime
) -> Row:
    held = last is not None and last.get("decision") == "hold" and connection.state == PENDING
    expiry = hold_expires_at(policy.compiled.plan(connection.service_id), connection)
    expires = expiry.isoformat() if held and expiry is not None else None
    return Row(
        service_id=connection.service_id,
        endpoint_id=connection.endpoint_id,
        account=connection.account,
        state=connection.state,
        age_hours=round((now - connection.created_at).total_seconds() / 3600, 1),
        decision=None if last is None else str(last.get("decision")),
        reason=None if last is None else str(last.get("reason")),
        missing_facts=[] if last is None else [str(f) for f in last.get("missing_facts") or []],
        approved_by=None if last is None else last.get("approved_by"),
        decided_at=None if last is None else str(last.get("decided_at")),
        hold_expires_at=expires,
    )


def render(found: list[Row]) -> str:
    if not found:
        return "No connections."
    lines = []
    for row in found:
        lines.append(
            f"{row.endpoint_id}  {row.account} -> {row.service_id}  {row.state}, "
            f"{row.age_hours} h old"
        )
        lines.append(f"  decision  {row.decision or 'none recorded'}")
        if row.reason:
            lines.append(f"  why       {row.reason}")
        if row.missing_facts:
            lines.append(f"  missing   {', '.join(row.missing_facts)}")
        if row.approved_by:
            lines.append(f"  approver  {row.approved_by}")
        if row.hold_expires_at:
            lines.append(f"  expires   {row.hold_expires_at} (the hold becomes a reject)")
    return "\n".join(lines)


def _services(ec2: Any) -> list[str]:
    """The managed services: those tagged `privatelink-acceptor:managed=true`, as Reconcile
    scans them (docs/operations.md); `--service` names others instead."""
    return sorted(managed_scan(EndpointServices(ec2).services()).managed)


def _stack_output(session: boto3.Session, stack: str | None, endpoint_url: str | None) -> str:
    if not stack:
        raise UsageError("name the stack (--stack) or the decision table (--decision-table)")
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    for output in found.get("Outputs", []):
        if output.get("OutputKey") == OUTPUT and output.get("OutputValue"):
            return str(output["OutputValue"])
    raise UsageError(f"stack {stack} has no {OUTPUT} output")
