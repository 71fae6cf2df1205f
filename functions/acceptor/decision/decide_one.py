"""Where a decision is made: `decide_one`, one request in, one `Decision` out.

Pure (docs/architecture.md, "Decide"): no AWS, no clock but `now`, no log but the `records`
it is given. Decide, the replay (through Decide), `acceptor policy explain` and the demo all
call it; nothing else derives any part of a decision. Its steps, in order:

1. screening: a service this stack does not manage, a connection gone, or in a state that is
   not decided (only `pendingAcceptance`; for a revocation check only `available`, and only
   where a governing file sets `revoke: true`; for origin `approval` also `pending` and
   `available`, a person's accept made in the console) is left alone (`ignore`);
2. evaluation of the policy (`policy/evaluate.py`), one pass;
3. for a revocation check, the two-step: the first sweep that finds the policy rejecting an
   available connection reports it; a later sweep enforces it when `records.notice` is due;
4. for origin `approval`, a person's approval from `records.approval`
   (`approval/verdict.py`): it decides only a request the policy holds, and only when the
   record is valid; a request with no valid record stays held and is not published; for a
   connection a person already accepted (pending or available) a valid accept record makes it
   their accept with action `none`, anything else leaves it alone;
5. the per-account limit (`policy/limits.py`), when `connections` is given: an accept over a
   governing file's limit becomes its `over_limit` decision (hold or reject). It comes after
   the policy's reject and hold steps, so a limit never turns a reject or a hold into anything
   else;
6. hold expiry: a hold (of the policy or of the limit) older than the shortest
   `hold.expires_after` of the governing files becomes a reject; a hold that can still expire
   says when (`hold_expires_at`, the connection's creation time plus that duration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from acceptor.approval.model import ApprovalRecord, terms_for
from acceptor.approval.verdict import ApprovalStep, approval_step
from acceptor.contract import ActionType, DecisionName, RequestedDetail
from acceptor.decision.connection import AVAILABLE, PENDING, Connection
from acceptor.decision.gather import RequestFacts
from acceptor.decision.records import NO_RECORDS, Records, notice_is_due
from acceptor.policy.evaluate import Evaluation, evaluate
from acceptor.policy.index import ServicePlan
from acceptor.policy.limits import LimitVerdict, over_limit
from acceptor.policy.model import format_duration
from acceptor.policy.policy_set import PolicySet

RevocationPhase = Literal["reported", "enforced"]

# The action each decision calls for on a pending connection.
ACTION_OF: dict[DecisionName, ActionType] = {
    "accept": "accept",
    "reject": "reject",
    "hold": "none",
    "ignore": "none",
}


# States of a connection somebody already accepted (`pending` while AWS sets it up).
ACCEPTED = frozenset({"pending", AVAILABLE})


class NotCounted:
    """`decide_one`'s `connections` when nobody counted them, because no limit governs the
    request's service (Decide counts only for those: `flows/decide/reread.py`) or the caller
    decides without counts (`explain` without `connections`). A `limits` that governs the
    service is then left out of the decision."""


NOT_COUNTED = NotCounted()


@dataclass(frozen=True, slots=True)
class Decision:
    """What the acceptor does about one request, and everything its record says about why."""

    request: RequestedDetail
    connection: Connection | None
    gathered: RequestFacts | None
    evaluation: Evaluation | None
    """None when screening decided (nothing was evaluated)."""
    decision: DecisionName
    reason: str
    action: ActionType
    revocation: RevocationPhase | None = None
    quiet: bool = False
    """Nothing worth an event or a record: a revocation check of a connection still allowed."""
    hold_expires_at: datetime | None = None
    """When a hold turns into a reject (hold.expires_after); None when it never does."""
    limited: LimitVerdict | None = None
    """The limit step's verdict when it turned an accept into a hold or a reject."""
    approved: ApprovalRecord | None = None
    """The approval record that decided (origin `approval`); None otherwise."""
    approval_groups: str | None = None
    """`approval.security_groups` of the governing files (JSON text), for an approved accept."""

    @property
    def approved_by(self) -> str | None:
        return None if self.approved is None else self.approved.approver

    @property
    def approval_reason(self) -> str | None:
        return None if self.approved is None else self.approved.reason

    @property
    def rule(self) -> str | None:
        """The deciding rule; None when a default or a limit decided."""
        if self.evaluation is None or self.limited is not None:
            return None
        return self.evaluation.rule

    @property
    def notify(self) -> tuple[str, ...]:
        """The governing files' channels, then the deciding rule's, each once."""
        if self.evaluation is None or self.evaluation.plan is None:
            return ()
        deciding = self.evaluation.deciding
        if deciding is None or not deciding.notify:
            return self.evaluation.plan.channels
        return tuple(dict.fromkeys((*self.evaluation.plan.channels, *deciding.notify)))

    @property
    def security_groups(self) -> str | None:
        """The deciding accept rule's `security_groups` (JSON text), only for an accept; for an
        accept a person approved, the policy's `approval.security_groups`."""
        if self.decision != "accept":
            return None
        if self.approved is not None:
            return self.approval_groups
        deciding = None if self.evaluation is None else self.evaluation.deciding
        if deciding is None:
            return None
        return deciding.security_groups


def decide_one(
    request: RequestedDetail,
    connection: Connection | None,
    gathered: RequestFacts | None,
    records: Records,
    policy: PolicySet,
    now: datetime,
    *,
    managed: frozenset[str] | None = None,
    connections: int | NotCounted | None = NOT_COUNTED,
) -> Decision:
    """Decide one request. `gathered` may be None only when `needs_facts` says False.

    `managed` is the stack's managed services as scanned (empty: none is managed); None skips
    this screen (callers that screened already, and tools that decide offline).
    `connections` is the account's connections to the service (this request included) from
    Decide's per-service re-read, for the limit step; None when they could not be read (an
    accept a limit governs is then held: fail closed); `NOT_COUNTED` leaves the step out.
    """
    left = screen(request, connection, policy, managed)
    if left is not None:
        return Decision(request, connection, gathered, None, "ignore", left, "none")
    assert connection is not None  # screening leaves a gone connection alone
    if gathered is None:
        raise ValueError(f"{request.endpoint_id}: decide_one needs the facts of this request")
    evaluation = evaluate(policy, gathered.facts)
    if request.origin == "revocation":
        return _revocation(request, connection, gathered, evaluation, records, now)
    decision, reason = evaluation.decision, evaluation.reason
    approved, quiet, groups = None, False, None
    if request.origin == "approval":
        step = approval_step(decision, reason, records.approval, connection, now)
        decision, reason, approved, quiet = step.decision, step.reason, step.approved, step.quiet
        terms = terms_for(policy, connection.service_id)
        if approved is not None and terms.security_groups is not None:
            groups = terms.security_groups.model_dump_json(exclude_none=True)
        if connection.state in ACCEPTED:
            return _accepted_by_a_person(request, connection, gathered, evaluation, step, groups)
    limited = None
    if not isinstance(connections, NotCounted) and evaluation.plan is not None:
        limited = over_limit(
            decision,
            evaluation.plan.limits,
            connections,
            account=gathered.facts.account,
            service_id=connection.service_id,
        )
        if limited is not None:
            decision, reason = limited.decision, f"{limited.reason} Without the limit: {reason}"
    expires = None
    if decision == "hold" and evaluation.plan is not None:
        expires = hold_expires_at(evaluation.plan, connection)
        if expires is not None and now >= expires:
            decision, reason = "reject", _expired_reason(evaluation.plan, connection, reason)
            quiet = False
    return Decision(
        request,
        connection,
        gathered,
        evaluation,
        decision,
        reason,
        ACTION_OF[decision],
        quiet=quiet and decision == "hold",
        hold_expires_at=expires,
        limited=limited,
        approved=approved,
        approval_groups=groups,
    )


def _accepted_by_a_person(
    request: RequestedDetail,
    connection: Connection,
    gathered: RequestFacts,
    evaluation: Evaluation,
    step: ApprovalStep,
    groups: str | None,
) -> Decision:
    """An accepted connection asked about with origin `approval`: a person accepted it outside
    the acceptor (the console; NotifyFunction recorded it, `flows/approval.py`). It is recorded
    as their accept (nothing left to do: action `none`; its groups are the policy's
    `approval.security_groups`) only when the policy still holds it and their accept record is
    valid; otherwise it is left alone, as any connection that is not pending."""
    if step.approved is None or step.decision != "accept":
        return Decision(
            request,
            connection,
            gathered,
            evaluation,
            "ignore",
            f"The connection is {connection.state} and no person's accept applies: {step.reason}",
            "none",
        )
    return Decision(
        request,
        connection,
        gathered,
        evaluation,
        "accept",
        f"{step.reason} Already {connection.state}: accepted by that person outside the acceptor.",
        "none",
        approved=step.approved,
        approval_groups=groups,
    )


def needs_facts(
    request: RequestedDetail,
    connection: Connection | None,
    policy: PolicySet,
    managed: frozenset[str] | None = None,
) -> bool:
    """Whether `decide_one` gets past screening for this request: the flow gathers facts only
    for these (the consumer lookups are the costly part)."""
    return screen(request, connection, policy, managed) is None


def screen(
    request: RequestedDetail,
    connection: Connection | None,
    policy: PolicySet,
    managed: frozenset[str] | None = None,
) -> str | None:
    """Why the request is left alone without asking the policy; None when it must be asked."""
    if managed is not None and request.service_id not in managed:
        return (
            f"Service {request.service_id} is not one this stack manages (not tagged "
            "privatelink-acceptor:managed=true, or outside ManagedServiceIds)."
        )
    if connection is None:
        return (
            "DescribeVpcEndpointConnections no longer shows this connection "
            "(the consumer deleted the endpoint?): nothing to decide."
        )
    if request.origin == "revocation":
        if connection.state != AVAILABLE:
            return (
                f"A revocation check applies to available connections; this one is "
                f"{connection.state}."
            )
        if not policy.compiled.plan(connection.service_id).revoke:
            return (
                f"No policy file governing {connection.service_id} sets revoke: true, "
                "so available connections are left alone."
            )
        return None
    if request.origin == "approval" and connection.state in ACCEPTED:
        return None  # a person's accept made outside the acceptor (the console): recorded
    if connection.state != PENDING:
        return (
            f"The connection is {connection.state}, not {PENDING}: "
            "the acceptor decides only pending requests."
        )
    return None


def hold_expires_at(plan: ServicePlan, connection: Connection) -> datetime | None:
    """When a hold of this connection becomes a reject; None when no file sets a limit."""
    if plan.hold_limit is None:
        return None
    return connection.created_at + plan.hold_limit.after


def _expired_reason(plan: ServicePlan, connection: Connection, reason: str) -> str:
    assert plan.hold_limit is not None
    return (
        f"Rejected: held since {connection.created_at.isoformat()}, longer than "
        f"{_hold_limit_text(plan.hold_limit.after, plan.hold_limit.file)}. {reason}"
    )


@lru_cache(maxsize=64)
def _hold_limit_text(after: timedelta, file: str) -> str:
    """`hold.expires_after (72h, policies/x.yaml)`, made once per limit, not per request."""
    return f"hold.expires_after ({format_duration(after)}, {file})"


def _revocation(
    request: RequestedDetail,
    connection: Connection,
    gathered: RequestFacts,
    evaluation: Evaluation,
    records: Records,
    now: datetime,
) -> Decision:
    if evaluation.decision != "reject":
        # Still allowed (or undecidable: a hold never revokes a working connection).
        return Decision(
            request,
            connection,
            gathered,
            evaluation,
            evaluation.decision,
            f"Not revoked: {evaluation.reason}",
            "none",
            quiet=True,
        )
    notice = records.notice
    if notice is not None and notice_is_due(
        notice, evaluation.policy_hash, request.correlation_id, now
    ):
        return Decision(
            request,
            connection,
            gathered,
            evaluation,
            "reject",
            f"Revoked: {evaluation.reason} (reported at {notice.reported_at.isoformat()})",
            "reject",
            revocation="enforced",
        )
    return Decision(
        request,
        connection,
        gathered,
        evaluation,
        "reject",
        f"Would revoke: {evaluation.reason} A later sweep revokes it if the policy still says so.",
        "none",
        revocation="reported",
    )


__all__ = [
    "NOT_COUNTED",
    "NO_RECORDS",
    "Decision",
    "Records",
    "decide_one",
    "hold_expires_at",
    "needs_facts",
    "screen",
]
