"""Decide's re-read stage: the connections as EC2 shows them now, one call per service; and,
for the services a `limits` governs, one listing of the service's connections to count them."""

from __future__ import annotations

from collections.abc import Mapping

from acceptor.aws.errors import AwsError
from acceptor.decision.connection import PENDING, Connection
from acceptor.flows.decide.ports import Connections
from acceptor.flows.decide.results import Claimed, StageResults
from acceptor.flows.telemetry import logger
from acceptor.policy.limits import count_for
from acceptor.policy.policy_set import PolicySet

GONE = "DescribeVpcEndpointConnections no longer shows the connection"


def reread(claimed: list[Claimed], ec2: Connections) -> StageResults[Connection]:
    """Done with the connection as EC2 shows it now; skipped when EC2 no longer shows it
    (`decide_one` then leaves it alone, and says so); failed when the call failed."""
    results: StageResults[Connection] = StageResults()
    by_service: dict[str, list[Claimed]] = {}
    for request in claimed:
        by_service.setdefault(request.request.service_id, []).append(request)
    for service_id, group in by_service.items():
        try:
            found = ec2.connections(service_id, [c.request.endpoint_id for c in group])
        except AwsError as err:
            results.fail(group, err)
            continue
        for request in group:
            connection = found.get(request.request.endpoint_id)
            if connection is None:
                results.skipped[request] = GONE
            else:
                results.done[request] = connection
    return results


def count_connections(
    found: Mapping[Claimed, Connection],
    ec2: Connections,
    policy: PolicySet,
    managed: frozenset[str] | None = None,
) -> dict[Claimed, int | None]:
    """For each pending request to a (managed) service that a `limits` governs: the count its
    limit step compares (`policy/limits.py`, `count_for`), from one listing of the service's
    connections (EC2's truth now, never a message); None when the listing failed, which holds a
    request the rules would accept (fail closed). Requests no limit governs get no count:
    `decide_one` then has no limit step to take."""
    counted: dict[Claimed, int | None] = {}
    by_service: dict[str, list[Claimed]] = {}
    for request, connection in found.items():
        if (
            request.request.origin != "revocation"
            and connection.state == PENDING
            and (managed is None or connection.service_id in managed)
            and policy.compiled.plan(connection.service_id).limits
        ):
            by_service.setdefault(connection.service_id, []).append(request)
    for service_id, group in by_service.items():
        try:
            listed = ec2.service_connections(service_id)
        except AwsError as err:
            logger.warning(
                "connections not counted: a request a limit governs is held",
                extra={"service_id": service_id, "error": str(err)},
            )
            counted.update(dict.fromkeys(group))
            continue
        for request in group:
            counted[request] = count_for(found[request], listed)
    return counted
