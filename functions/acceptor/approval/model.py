"""The approval request, the approval record, and who may approve (pure).

An approval is a person's `accept` or `reject` of a held request. ApprovalFunction writes it
as a record (endpoint, service, decision, approver, reason, time, expiry); Decide acts on it
only when the connection is still pending, the policy still holds it, and the record is valid
(docs/architecture.md's trust boundary: the record, never the event, carries the approval).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from acceptor.policy.model import SecurityGroups
from acceptor.policy.policy_set import PolicySet

HumanDecision = Literal["accept", "reject"]

# An approval not yet used lapses after this long when no governing file sets
# `approval.expires_after` (docs/policy.md, "approval").
DEFAULT_EXPIRY = timedelta(days=14)
MAX_REASON = 1000


class ApprovalAsk(BaseModel):
    """The body of `POST` to the approval URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_id: str = Field(pattern=r"^vpce-[0-9a-f]{8,17}$")
    decision: HumanDecision
    reason: str = Field(min_length=1, max_length=MAX_REASON)


@dataclass(frozen=True)
class ApprovalRecord:
    endpoint_id: str
    service_id: str
    decision: HumanDecision
    approver: str
    reason: str
    approved_at: datetime
    expires_at: datetime
    approval_id: str
    """Names this approval (the request ID that made it): the Requested event's correlation."""

    def valid_for(self, endpoint_id: str, service_id: str, now: datetime) -> bool:
        return (
            self.endpoint_id == endpoint_id
            and self.service_id == service_id
            and self.approved_at <= now < self.expires_at
        )

    def to_item(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "service_id": self.service_id,
            "decision": self.decision,
            "approver": self.approver,
            "reason": self.reason,
            "approved_at": self.approved_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "approval_id": self.approval_id,
            # DynamoDB's TTL attribute (epoch seconds): lapsed records go away by themselves.
            "ttl": int(self.expires_at.timestamp()),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ApprovalRecord:
        decision = str(item["decision"])
        if decision not in ("accept", "reject"):
            raise ValueError(f"approval record with decision {decision!r}")
        return cls(
            endpoint_id=str(item["endpoint_id"]),
            service_id=str(item["service_id"]),
            decision="accept" if decision == "accept" else "reject",
            approver=str(item["approver"]),
            reason=str(item["reason"]),
            approved_at=datetime.fromisoformat(str(item["approved_at"])),
            expires_at=datetime.fromisoformat(str(item["expires_at"])),
            approval_id=str(item["approval_id"]),
        )


@dataclass(frozen=True)
class ApprovalTerms:
    """What the files governing a service say about approvals."""

    governed: bool
    approver_lists: tuple[tuple[str, ...], ...]
    """One list per governing file that sets `approval.approvers`; an approver must be in each."""
    expires_after: timedelta
    security_groups: SecurityGroups | None

    def allows(self, approver: str) -> bool:
        return all(
            any(matches(allowed, approver) for allowed in listed) for listed in self.approver_lists
        )


def terms_for(policy: PolicySet, service_id: str) -> ApprovalTerms:
    """Several files may govern a service: every `approvers` list must admit the approver,
    the shortest `expires_after` counts, and the first `security_groups` (in file order)."""
    documents = policy.governing(service_id)
    approvals = [d.model.approval for d in documents if d.model.approval is not None]
    lists = tuple(tuple(a.approvers) for a in approvals if a.approvers is not None)
    expiries = [a.expires_after for a in approvals if a.expires_after is not None]
    groups = next((a.security_groups for a in approvals if a.security_groups is not None), None)
    return ApprovalTerms(
        governed=bool(documents),
        approver_lists=lists,
        expires_after=min(expiries) if expiries else DEFAULT_EXPIRY,
        security_groups=groups,
    )


def matches(allowed: str, approver: str) -> bool:
    """`allowed` (from `approvers`) admits `approver` (an IAM caller ARN or `slack:USERID`).

    Exact match, or `allowed` is an IAM role ARN and `approver` one of its sessions:
    `arn:P:iam::A:role/path/Name` admits `arn:P:sts::A:assumed-role/Name/session` (STS drops
    the role's path from session ARNs).
    """
    if allowed == approver:
        return True
    role = _role(allowed)
    session = _assumed_role(approver)
    return role is not None and session is not None and role == session


def _role(arn: str) -> tuple[str, str, str] | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return None
    resource = parts[5]
    if not resource.startswith("role/"):
        return None
    return parts[1], parts[4], resource.rsplit("/", 1)[-1]


def _assumed_role(arn: str) -> tuple[str, str, str] | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sts":
        return None
    pieces = parts[5].split("/")
    if len(pieces) != 3 or pieces[0] != "assumed-role":
        return None
    return parts[1], parts[4], pieces[1]
