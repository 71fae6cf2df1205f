"""Decide's re-read stage: the connections as EC2 shows them now, one call per service."""

from __future__ import annotations

from acceptor.aws.errors import AwsError
from acceptor.decision.connection import Connection
from acceptor.flows.decide.ports import Connections
from acceptor.flows.decide.results import Claimed, StageResults

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
