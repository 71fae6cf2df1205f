"""`decide_one`'s approval step: what a request with origin `approval` comes to (pure).

Decide has re-read the connection (still `pendingAcceptance`, or screening has already left
it alone) and evaluated the policy; the approval record was read from the approvals table,
never taken from the event (docs/architecture.md, the trust boundary). The person's decision
stands only when the policy says `hold` (an approval never overrides a matched reject rule,
nor turns an accept into a reject) and the record is valid for this connection now.
Otherwise the request comes to what the policy says; a request with no valid record stays
held and is not published (a forged or stale event is only logged), unless its hold has
expired (then it is rejected as any expired hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from acceptor.approval.model import ApprovalRecord
from acceptor.contract import DecisionName
from acceptor.decision.connection import Connection


@dataclass(frozen=True)
class ApprovalStep:
    decision: DecisionName
    reason: str
    approved: ApprovalRecord | None = None
    """The record that decided; None when the approval did not apply."""
    quiet: bool = False
    """A held request with no valid record: nothing to publish."""


def approval_step(
    policy_decision: DecisionName,
    policy_reason: str,
    record: ApprovalRecord | None,
    connection: Connection,
    now: datetime,
) -> ApprovalStep:
    if policy_decision != "hold":
        return ApprovalStep(
            policy_decision,
            f"An approval does not apply: the policy says {policy_decision}. {policy_reason}",
        )
    problem = _invalid(record, connection, now)
    if problem is not None or record is None:
        return ApprovalStep("hold", f"Still held: {problem}. {policy_reason}", quiet=True)
    verb = "Approved" if record.decision == "accept" else "Rejected"
    return ApprovalStep(
        record.decision,
        f"{verb} by {record.approver}: {record.reason} (the policy held it: {policy_reason})",
        approved=record,
    )


def _invalid(record: ApprovalRecord | None, connection: Connection, now: datetime) -> str | None:
    if record is None:
        return "no approval record exists for this connection"
    if record.endpoint_id != connection.endpoint_id or record.service_id != connection.service_id:
        return "the approval record names another connection"
    if now >= record.expires_at:
        return f"the approval by {record.approver} expired at {record.expires_at.isoformat()}"
    if now < record.approved_at:
        return "the approval record is dated in the future"
    return None
