"""Decide's approval seam: what a request with origin `approval` comes to (pure).

Decide has re-read the connection (still `pendingAcceptance`, or `screen` has already left it
alone) and evaluated the policy; the approval record was read from the approvals table, never
taken from the event. The person's decision stands only when the policy says `hold` (an
approval never overrides a matched reject rule, nor turns an accept into a reject) and the
record is valid for this connection now. Otherwise the request comes to what the policy says,
and a request with no valid record changes nothing and is not published (a forged or stale
event is only logged).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from acceptor.approval.model import ApprovalRecord
from acceptor.decision.connection import Connection
from acceptor.decision.verdict import Verdict
from acceptor.policy.evaluate import Evaluation


def with_approval(
    verdict: Verdict,
    evaluation: Evaluation,
    record: ApprovalRecord | None,
    connection: Connection,
    now: datetime,
) -> Verdict:
    """`verdict` is what the policy alone makes of the request (`judge`)."""
    if evaluation.decision != "hold":
        return replace(
            verdict,
            reason=f"An approval does not apply: the policy says {evaluation.decision}. "
            f"{verdict.reason}",
        )
    problem = _invalid(record, connection, now)
    if problem is not None or record is None:
        if verdict.decision != "hold":  # e.g. a hold past hold.expires_after: rejected
            return verdict
        return Verdict(
            decision="hold",
            reason=f"Still held: {problem}. {evaluation.reason}",
            rule=evaluation.rule,
            action="none",
            quiet=True,
        )
    verb = "Approved" if record.decision == "accept" else "Rejected"
    return Verdict(
        decision=record.decision,
        reason=f"{verb} by {record.approver}: {record.reason} (the policy held it: "
        f"{evaluation.reason})",
        rule=evaluation.rule,
        action=record.decision,
        approved_by=record.approver,
        approval_reason=record.reason,
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
