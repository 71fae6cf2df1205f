"""Per-account connection limits (docs/policy.md, "limits"): one step of the decision order.

Pure code. The step runs after the reject and hold steps and before accept: it only ever turns
an `accept` (by a rule or by a default) into the `over_limit` decision of a file whose limit
the request exceeds, and leaves every other outcome exactly as it was. So a limit never turns a
reject into anything else, and never lets anything be accepted that was not accepted before.

The count is the account's connections to the service in the states below, the request being
decided included, read by Decide from its per-service listing of the connections (never from a
message); `count_for` computes it from that listing. A request waiting for acceptance counts the
ones requested before it, not those requested after it: of three endpoints an account requests
at once under a limit of 2, the first two are within the limit and the third is over, whatever
order Decide decides them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from acceptor.policy.evaluate import RESTRICTIVENESS, Outcome
from acceptor.policy.index import FileLimit
from acceptor.policy.model import OverLimitDecision

# The states that count against a limit (DescribeVpcEndpointConnections' VpcEndpointState).
COUNTED_STATES = frozenset({"pendingAcceptance", "pending", "available"})
WAITING = "pendingAcceptance"
# The name under which an unknown count appears in an evaluation's missing facts.
CONNECTIONS = "connections"

_VERB: dict[OverLimitDecision, str] = {"hold": "Held", "reject": "Rejected"}


@dataclass(frozen=True)
class LimitVerdict:
    """What the limit step decided instead of accept, and why."""

    decision: OverLimitDecision
    reason: str
    file: str


class CountedConnection(Protocol):
    """What counting needs of a connection (`acceptor.decision.connection.Connection` has it)."""

    @property
    def service_id(self) -> str: ...

    @property
    def account(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def endpoint_id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


def count_for(request: CountedConnection, listed: Iterable[CountedConnection]) -> int:
    """The count the limit step compares with `per_account` for one request (a connection
    waiting for acceptance): the request itself, plus its account's other connections to the
    service in `listed` that are accepted or being accepted (`pending`, `available`), or that
    wait for acceptance and were requested before it (earlier creation time; for the same time,
    the smaller endpoint ID). Connections in other states, of other accounts or services, and
    those requested after it do not count."""
    ahead = (request.created_at, request.endpoint_id)
    others = 0
    for connection in listed:
        if (
            connection.endpoint_id == request.endpoint_id
            or connection.account != request.account
            or connection.service_id != request.service_id
            or connection.state not in COUNTED_STATES
        ):
            continue
        if connection.state != WAITING or (connection.created_at, connection.endpoint_id) < ahead:
            others += 1
    return others + 1


def over_limit(
    decision: Outcome,
    limits: Sequence[FileLimit],
    count: int | None,
    *,
    account: str | None,
    service_id: str,
) -> LimitVerdict | None:
    """The limit step: a verdict replacing `decision`, or None when the limit changes nothing.

    `count` is the account's connections to the service, this request included; None when it
    could not be read, which holds an accept that a limit governs (fail closed). Of several
    files' limits, every one the count exceeds applies and the most restrictive `over_limit`
    among them wins (reject over hold; then the smallest limit, then the first file, names it).
    """
    if decision != "accept" or not limits:
        return None
    who = f"account {account}" if account is not None else "the consumer account"
    if count is None:
        smallest = min(limits, key=lambda limit: (limit.per_account, limit.file))
        return LimitVerdict(
            decision="hold",
            reason=(
                f"Held: the number of connections {who} has to {service_id} is unknown, so "
                f"the limit of {smallest.per_account} per account set by {smallest.file} "
                "cannot be ruled out."
            ),
            file=smallest.file,
        )
    exceeded = [limit for limit in limits if count > limit.per_account]
    if not exceeded:
        return None
    chosen = min(
        exceeded,
        key=lambda limit: (-RESTRICTIVENESS[limit.over_limit], limit.per_account, limit.file),
    )
    plural = "connection" if count == 1 else "connections"
    return LimitVerdict(
        decision=chosen.over_limit,
        reason=(
            f"{_VERB[chosen.over_limit]}: {who} has {count} {plural} to "
            f"{service_id} (this request included), over the limit of {chosen.per_account} "
            f"per account set by {chosen.file}."
        ),
        file=chosen.file,
    )
