"""Per-account connection limits (docs/policy.md, "limits"): one step of the decision order.

Pure code. The step runs after the reject and hold steps and before accept: it only ever turns
an `accept` (by a rule or by a default) into the `over_limit` decision of a file whose limit
the request exceeds, and leaves every other outcome exactly as it was. So a limit never turns a
reject into anything else, and never lets anything be accepted that was not accepted before.

The count is the account's connections to the service in the states below, the request being
decided included, read by Decide from its per-service re-read of the connections (never from a
message); `connection_counts` computes it from that re-read.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from acceptor.policy.evaluate import RESTRICTIVENESS, Evaluation, Outcome
from acceptor.policy.facts import Facts
from acceptor.policy.index import FileLimit
from acceptor.policy.model import OverLimitDecision
from acceptor.policy.policy_set import PolicyDocument

# The states that count against a limit (DescribeVpcEndpointConnections' VpcEndpointState).
COUNTED_STATES = frozenset({"pendingAcceptance", "pending", "available"})
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


def limits_of(documents: Iterable[PolicyDocument]) -> tuple[FileLimit, ...]:
    """The limits of the files that set one (pass the files governing the request's service;
    a service's compiled plan has them as `ServicePlan.limits`)."""
    return tuple(
        FileLimit(document.path, limits.per_account, limits.over_limit)
        for document in documents
        if (limits := document.model.limits) is not None
    )


def connection_counts(
    connections: Iterable[CountedConnection],
) -> Mapping[tuple[str, str], int]:
    """(service ID, account) -> how many of `connections` count against a limit."""
    return Counter(
        (connection.service_id, connection.account)
        for connection in connections
        if connection.state in COUNTED_STATES
    )


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


def apply_limits(
    evaluation: Evaluation, limits: Sequence[FileLimit], count: int | None, facts: Facts
) -> Evaluation:
    """`evaluation` with the limit step applied: unchanged unless an accept is over a limit.

    An over-limit evaluation keeps the rules' statuses; its reason says what the rules alone
    would have decided, `rule` is None (no rule decided it) and `file` names the limit's file.
    """
    verdict = over_limit(
        evaluation.decision,
        limits,
        count,
        account=facts.account,
        service_id=facts.service_id,
    )
    if verdict is None:
        return evaluation
    missing = evaluation.missing_facts
    if count is None:
        missing = tuple(sorted({*missing, CONNECTIONS}))
    return dataclasses.replace(
        evaluation,
        decision=verdict.decision,
        reason=f"{verdict.reason} Without the limit: {evaluation.reason}",
        deciding=None,
        deciding_outcome=None,
        file=verdict.file,
        missing_facts=missing,
    )
