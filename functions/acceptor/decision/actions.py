"""Accepts and rejects batched per service, and how a per-item failure is settled.

AcceptVpcEndpointConnections / RejectVpcEndpointConnections take a list of endpoint IDs and
share a token bucket of 10 (refill 1/s), so a batch of decisions makes at most one call per
service and action (per `ACTION_CHUNK` IDs). Failures come back per item in `Unsuccessful`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from acceptor.contract import ActionResult

Act = Literal["accept", "reject"]

# AWS documents no limit on VpcEndpointIds; EC2 list parameters commonly take up to 1,000 IDs.
ACTION_CHUNK = 1000

# Codes that mean "try again later"; every other code is settled by re-reading the state.
TRANSIENT_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
    }
)

# A failed item whose connection is already here did what was asked ("already in that state").
DONE_STATES: dict[Act, frozenset[str]] = {
    "accept": frozenset({"pending", "available"}),
    "reject": frozenset({"rejected"}),
}


@dataclass(frozen=True)
class ActionBatch:
    service_id: str
    act: Act
    endpoint_ids: tuple[str, ...]


@dataclass(frozen=True)
class ItemFailure:
    code: str
    message: str

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


def plan_batches(
    items: Iterable[tuple[str, Act, str]], chunk: int = ACTION_CHUNK
) -> list[ActionBatch]:
    """(service, act, endpoint) triples → one batch per service and act (chunked), in order."""
    grouped: dict[tuple[str, Act], list[str]] = {}
    for service_id, act, endpoint_id in items:
        ids = grouped.setdefault((service_id, act), [])
        if endpoint_id not in ids:
            ids.append(endpoint_id)
    batches = []
    for (service_id, act), ids in grouped.items():
        for start in range(0, len(ids), chunk):
            batches.append(ActionBatch(service_id, act, tuple(ids[start : start + chunk])))
    return batches


@dataclass(frozen=True)
class Settled:
    result: ActionResult
    error: str | None = None
    retry: bool = False
    """Still failing with a transient error: the request is retried by the queue."""


def settle(act: Act, failure: ItemFailure | None, state_now: str | None) -> Settled:
    """The result of one item after its call (and, for failures, a re-read of its state)."""
    if failure is None:
        return Settled("succeeded")
    if state_now in DONE_STATES[act]:
        return Settled("succeeded")
    if failure.transient:
        return Settled("failed", str(failure), retry=True)
    return Settled("failed", str(failure))
