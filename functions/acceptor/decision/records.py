"""What the decision log already holds about an endpoint, as `decide_one` reads it.

The flow reads these before it decides (docs/architecture.md, "Decide"); `decide_one` never
reads the log itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from acceptor.approval.model import ApprovalRecord

# A report older than this is stale: the next sweep reports again instead of enforcing.
NOTICE_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class RevocationNotice:
    """The record of a "would revoke" report (kept in the decision log)."""

    reported_at: datetime
    policy_hash: str
    correlation_id: str


@dataclass(frozen=True)
class Records:
    notice: RevocationNotice | None = None
    """The revocation report of an earlier sweep, for the two-step revocation."""
    approval: ApprovalRecord | None = None
    """For origin `approval`: the endpoint's approval record, read from the approvals table
    (acceptor/approval/verdict.py says when it applies)."""


NO_RECORDS = Records()


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
