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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.exceptions

from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.managed_services import EndpointServices
from acceptor.decision.connection import PENDING
from acceptor.decision.standing import Standing, oldest, standings
from acceptor.managed import managed_scan
from acceptor.policy.errors import PolicyError
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet

OUTPUT = "DecisionTableName"
STATES = ("pendingAcceptance", "pending", "available", "rejected", "expired", "failed")


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
        log = DecisionLog(dynamodb, table)
        found = rows(reader, log, services, policy, datetime.now(UTC))
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
    log: DecisionLog,
    services: Iterable[str],
    policy: PolicySet,
    now: datetime,
) -> list[Row]:
    found: list[Row] = []
    for service_id in services:
        connections = [c for state in STATES for c in ec2.list_connections(service_id, state)]
        last = log.latest_by_service(
            service_id, {c.endpoint_id for c in connections}, since=oldest(connections)
        )
        found.extend(_row(s, now) for s in standings(connections, last, policy))
    return found


def _row(standing: Standing, now: datetime) -> Row:
    connection, last = standing.connection, standing.last
    expires = standing.expires_at if standing.held else None
    return Row(
        service_id=connection.service_id,
        endpoint_id=connection.endpoint_id,
        account=connection.account,
        state=connection.state,
        age_hours=round(standing.age(now).total_seconds() / 3600, 1),
        decision=None if last is None else last.decision,
        reason=None if last is None else str(last.reason),
        missing_facts=[] if last is None else list(last.missing_facts),
        approved_by=None if last is None else last.approved_by,
        decided_at=None if last is None else str(last.decided_at),
        hold_expires_at=None if expires is None else expires.isoformat(),
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
