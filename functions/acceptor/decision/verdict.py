"""From a policy evaluation to what the acceptor does about one request.

The evaluator says what the policy means; this module adds what the moment means:
- only `pendingAcceptance` connections are decided (a revocation check only `available` ones);
- a hold older than the shortest `hold.expires_after` of the governing files becomes a reject;
- revocation is a two-step: the first sweep that finds an available connection no longer allowed
  (the policy says reject) only reports it; a later sweep, under the same policy version and
  within `NOTICE_LIFETIME` of the report, enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from acceptor.contract import ActionType, DecisionName, RequestedDetail
from acceptor.decision.connection import AVAILABLE, PENDING, Connection
from acceptor.policy.evaluate import Evaluation
from acceptor.policy.model import format_duration
from acceptor.policy.policy_set import PolicySet

# A report older than this is stale: the next sweep reports again instead of enforcing.
NOTICE_LIFETIME = timedelta(hours=24)

RevocationPhase = Literal["reported", "enforced"]

# The action each decision calls for on a pending connection.
ACTION_OF: dict[DecisionName, ActionType] = {
    "accept": "accept",
    "reject": "reject",
    "hold": "none",
    "ignore": "none",
}


@dataclass(frozen=True)
class RevocationNotice:
    """The record of a "would revoke" report (kept in the decision log)."""

    reported_at: datetime
    policy_hash: str
    correlation_id: str


@dataclass(frozen=True)
class Verdict:
    decision: DecisionName
    reason: str
    rule: str | None
    action: ActionType
    revocation: RevocationPhase | None = None
    quiet: bool = False
    """Nothing worth an event or a record: a revocation check of a connection still allowed,
    or an approval request with no valid approval record."""
    approved_by: str | None = None
    """The approver whose record decided (origin `approval`, acceptor/approval/verdict.py)."""
    approval_reason: str | None = None


def revocation_enabled(policy: PolicySet, service_id: str) -> bool:
    return any(document.model.revoke for document in policy.governing(service_id))


def hold_limit(policy: PolicySet, service_id: str) -> tuple[timedelta, str] | None:
    """The shortest `hold.expires_after` among the files governing the service, and its file."""
    limits = [
        (document.model.hold.expires_after, document.path)
        for document in policy.governing(service_id)
        if document.model.hold.expires_after is not None
    ]
    return min(limits) if limits else None


def hold_expired(policy: PolicySet, connection: Connection, now: datetime) -> bool:
    limit = hold_limit(policy, connection.service_id)
    return limit is not None and now - connection.created_at >= limit[0]


def screen(
    request: RequestedDetail,
    connection: Connection | None,
    policy: PolicySet,
    managed: frozenset[str] = frozenset(),
) -> Verdict | None:
    """A verdict when there is nothing to evaluate; None when the policy must be asked.

    `managed` is the stack's managed services (empty: every service of the account).
    """
    if managed and request.service_id not in managed:
        return _leave(
            f"Service {request.service_id} is not one this stack manages (MANAGED_SERVICE_IDS)."
        )
    if connection is None:
        return _leave(
            "DescribeVpcEndpointConnections no longer shows this connection "
            "(the consumer deleted the endpoint?): nothing to decide."
        )
    if request.origin == "revocation":
        if connection.state != AVAILABLE:
            return _leave(
                f"A revocation check applies to available connections; this one is "
                f"{connection.state}."
            )
        if not revocation_enabled(policy, connection.service_id):
            return _leave(
                f"No policy file governing {connection.service_id} sets revoke: true, "
                "so available connections are left alone."
            )
        return None
    if connection.state != PENDING:
        return _leave(
            f"The connection is {connection.state}, not {PENDING}: "
            "the acceptor decides only pending requests."
        )
    return None


def judge(
    request: RequestedDetail,
    connection: Connection,
    evaluation: Evaluation,
    policy: PolicySet,
    now: datetime,
    notice: RevocationNotice | None = None,
) -> Verdict:
    """What to do about a request that `screen` let through, given its evaluation."""
    if request.origin == "revocation":
        return _revocation(request, evaluation, now, notice)
    limit = hold_limit(policy, connection.service_id)
    if (
        evaluation.decision == "hold"
        and limit is not None
        and now - connection.created_at >= limit[0]
    ):
        duration, file = limit
        return Verdict(
            decision="reject",
            reason=(
                f"Rejected: held since {connection.created_at.isoformat()}, longer than "
                f"hold.expires_after ({format_duration(duration)}, {file}). {evaluation.reason}"
            ),
            rule=evaluation.rule,
            action="reject",
        )
    return Verdict(
        decision=evaluation.decision,
        reason=evaluation.reason,
        rule=evaluation.rule,
        action=ACTION_OF[evaluation.decision],
    )


def _revocation(
    request: RequestedDetail,
    evaluation: Evaluation,
    now: datetime,
    notice: RevocationNotice | None,
) -> Verdict:
    if evaluation.decision != "reject":
        # Still allowed (or undecidable: a hold never revokes a working connection).
        return Verdict(
            decision=evaluation.decision,
            reason=f"Not revoked: {evaluation.reason}",
            rule=evaluation.rule,
            action="none",
            quiet=True,
        )
    if notice is not None and notice_is_due(
        notice, evaluation.policy_hash, request.correlation_id, now
    ):
        return Verdict(
            decision="reject",
            reason=(f"Revoked: {evaluation.reason} (reported at {notice.reported_at.isoformat()})"),
            rule=evaluation.rule,
            action="reject",
            revocation="enforced",
        )
    return Verdict(
        decision="reject",
        reason=(
            f"Would revoke: {evaluation.reason} A later sweep revokes it if the policy "
            "still says so."
        ),
        rule=evaluation.rule,
        action="none",
        revocation="reported",
    )


def notice_is_due(
    notice: RevocationNotice | None, policy_hash: str, correlation_id: str, now: datetime
) -> bool:
    """A report made by an earlier sweep, under this policy version, and not stale."""
    return (
        notice is not None
        and notice.policy_hash == policy_hash
        and notice.correlation_id != correlation_id
        and timedelta(0) <= now - notice.reported_at <= NOTICE_LIFETIME
    )


def _leave(reason: str) -> Verdict:
    return Verdict(decision="ignore", reason=reason, rule=None, action="none")
