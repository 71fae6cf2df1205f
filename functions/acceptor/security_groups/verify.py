"""Whether a bus event may lead to a security-group change, judged on re-read facts. Pure.

An event on the bus is a hint (docs/security-groups.md, "What an event may make it do"): it
names a connection, a rule (or an approver) and a policy hash, and SecurityGroups looks. It
opens rules only for a connection that the re-read shows `pending` or `available`, owned by the
account the event names, of a service the stack manages, under the bundled policy (the same
hash), and decided accept either by a rule that this policy holds as an accept rule (the ports
and groups are that rule's) or, when the event names an approver, by a person whose `accept`
record for this connection the approvals table holds now (the ports and groups are the governing
files' `approval.security_groups`, chosen as Decide chooses them: `approval.model.terms_for`).
It removes rules only when the re-read shows the connection gone. Every other case is a
`Refusal`, with a stable code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from acceptor.approval.model import ApprovalRecord, terms_for
from acceptor.decision.connection import PENDING, Connection
from acceptor.policy.model import Rule, SecurityGroups
from acceptor.policy.policy_set import PolicySet

# What the provider sees once an accept has been made (`pending` while AWS sets it up).
OPEN_STATES = frozenset({"pending", "available"})
# The states in which a connection is over; a connection no longer listed is over too. A
# `deleting` one is not yet: it is re-read again later (docs/security-groups.md).
GONE_STATES = frozenset({"rejected", "deleted", "expired", "failed"})

REFUSALS: dict[str, str] = {
    "connection-not-found": "the connection is not listed by DescribeVpcEndpointConnections",
    "service-mismatch": "the connection belongs to another service than the event names",
    "service-not-managed": "the connection's service is not one this stack manages",
    "owner-mismatch": "the connection is owned by another account than the event names",
    "connection-not-accepted": "the connection is not pending or available",
    "policy-changed": "the event's policy hash is not the bundled policy's",
    "rule-not-found": "the bundled policy has no accept rule of that name for the service",
    "approval-not-found": "the approvals table holds no live accept by that approver for the "
    "connection",
    "connection-live": "the connection is not gone; nothing of it is removed",
}


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str

    def __post_init__(self) -> None:
        if self.code not in REFUSALS:
            raise ValueError(f"unknown refusal code {self.code!r}")


@dataclass(frozen=True)
class AcceptClaim:
    """What a Decided accept event says: only names to look up, never facts to use."""

    endpoint_id: str
    service_id: str
    account: str
    rule: str | None
    policy_hash: str
    approved_by: str | None = None
    """The approver the event names: the approval is looked up in the approvals table (by the
    flow) and must name the same person; the event's word alone opens nothing."""


@dataclass(frozen=True)
class Opening:
    """A verified accept: the re-read connection and the groups the bundled policy gives it
    (the accept rule's own, or `approval.security_groups` for an approved accept)."""

    connection: Connection
    rule: Rule | None
    """The accept rule that decided; None for an accept a person approved."""
    spec: SecurityGroups | None
    approval: ApprovalRecord | None = None
    """The re-read approval record, for an accept a person approved."""


def is_gone(connection: Connection | None) -> bool:
    return connection is None or connection.state in GONE_STATES


def verify_accept(
    claim: AcceptClaim,
    connection: Connection | None,
    policy: PolicySet,
    managed: frozenset[str] | None,
    *,
    planning: bool,
    approval: ApprovalRecord | None = None,
    now: datetime | None = None,
) -> Opening | Refusal:
    """An `Opening` when every fact holds; the first fact that does not, as a `Refusal`.

    `planning` (a dry run) also admits `pendingAcceptance`: a dry run accepts nothing, and its
    plan changes nothing either. `approval` is the record the flow re-read from the approvals
    table for a claim with `approved_by` (None: there is none, or it was not read), judged at
    `now`.
    """
    if connection is None:
        return Refusal("connection-not-found", f"{claim.endpoint_id} is not listed")
    if connection.service_id != claim.service_id:
        return Refusal(
            "service-mismatch",
            f"{claim.endpoint_id} connects to {connection.service_id}, not {claim.service_id}",
        )
    # None: not screened here. Empty: no service is managed (none is tagged).
    if managed is not None and connection.service_id not in managed:
        return Refusal("service-not-managed", f"{connection.service_id} is not managed")
    if connection.account != claim.account:
        return Refusal(
            "owner-mismatch",
            f"{claim.endpoint_id} is owned by {connection.account}, not {claim.account}",
        )
    states = OPEN_STATES | {PENDING} if planning else OPEN_STATES
    if connection.state not in states:
        return Refusal(
            "connection-not-accepted",
            f"{claim.endpoint_id} is {connection.state}; rules are opened only for "
            "pending or available connections",
        )
    if claim.policy_hash != policy.version_hash:
        return Refusal(
            "policy-changed",
            f"the event was decided by policy {claim.policy_hash}; the bundled policy is "
            f"{policy.version_hash}",
        )
    if claim.approved_by is not None:
        return _approved(claim, connection, policy, approval, now)
    rule = accept_rule(policy, connection.service_id, claim.rule)
    if rule is None:
        return Refusal(
            "rule-not-found",
            f"no accept rule {claim.rule!r} governs {connection.service_id} in the bundled policy",
        )
    return Opening(connection=connection, rule=rule, spec=rule.security_groups)


def _approved(
    claim: AcceptClaim,
    connection: Connection,
    policy: PolicySet,
    record: ApprovalRecord | None,
    now: datetime | None,
) -> Opening | Refusal:
    """An accept a person approved: the re-read record must be a live `accept` of this very
    connection by the approver the event names. The spec is `approval.security_groups` of the
    governing files (the first file that sets it, as Decide takes it); whatever rule the event
    names is not looked at."""
    if now is None:
        raise ValueError("an approved accept is judged at a time: pass `now`")
    problem = approval_problem(claim, connection, record, now)
    if problem is not None:
        return Refusal("approval-not-found", f"{claim.endpoint_id}: {problem}")
    terms = terms_for(policy, connection.service_id)
    return Opening(connection=connection, rule=None, spec=terms.security_groups, approval=record)


def approval_problem(
    claim: AcceptClaim, connection: Connection, record: ApprovalRecord | None, now: datetime
) -> str | None:
    """Why `record` does not bear out the claim's approval; None when it does."""
    if record is None:
        return "the approvals table holds no approval record for this connection"
    if record.endpoint_id != connection.endpoint_id or record.service_id != connection.service_id:
        return "the approval record names another connection"
    if record.decision != "accept":
        return f"the approval record is a {record.decision}, not an accept"
    if record.approver != claim.approved_by:
        return f"the approval record names {record.approver!r}, not {claim.approved_by!r}"
    if not record.approved_at <= now < record.expires_at:
        return (
            f"the approval by {record.approver} is valid from {record.approved_at.isoformat()} "
            f"to {record.expires_at.isoformat()}, not now"
        )
    return None


def verify_gone(endpoint_id: str, connection: Connection | None) -> Refusal | None:
    """None when the re-read shows the connection over; else why nothing may be removed."""
    if is_gone(connection):
        return None
    assert connection is not None  # is_gone covers None
    return Refusal(
        "connection-live",
        f"{endpoint_id} is {connection.state}: its rules stay until a re-read shows it gone",
    )


def accept_rule(policy: PolicySet, service_id: str, name: str | None) -> Rule | None:
    """The accept rule of that name in a file governing the service (names are unique)."""
    if name is None:
        return None
    for document in policy.governing(service_id):
        for rule in document.model.rules:
            if rule.name == name:
                return rule if rule.decision == "accept" else None
    return None
