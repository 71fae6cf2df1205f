"""The Reconcile plan: which Requested events a sweep puts on the bus, and with which origin.

Every pending connection of a managed service is requested again (lost notifications, policy
changes); one held longer than the governing files' `hold.expires_after` goes with origin
`hold-expired` (Decide rejects it if the policy still holds it). Available connections of
services whose policy sets `revoke: true` go with origin `revocation`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from acceptor.contract import Origin, RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.decide_one import hold_expires_at
from acceptor.policy.policy_set import PolicySet


def sweep_origin(connection: Connection, policy: PolicySet, now: datetime) -> Origin:
    """Only a label for the request (Decide's `decide_one` decides whether the hold expired)."""
    expires = hold_expires_at(policy.compiled.plan(connection.service_id), connection)
    return "hold-expired" if expires is not None and now >= expires else "sweep"


def services_to_revoke(policy: PolicySet, services: Iterable[str]) -> list[str]:
    return [service for service in services if policy.compiled.plan(service).revoke]


def pending_requests(
    connections: Iterable[Connection], policy: PolicySet, now: datetime, correlation_id: str
) -> list[RequestedDetail]:
    return [
        RequestedDetail.of(connection, sweep_origin(connection, policy, now), correlation_id)
        for connection in connections
    ]


def revocation_requests(
    connections: Iterable[Connection], correlation_id: str
) -> list[RequestedDetail]:
    return [
        RequestedDetail.of(connection, "revocation", correlation_id) for connection in connections
    ]
