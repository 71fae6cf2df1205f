"""The events NotifyFunction receives: the bus contract's (acceptor.contract) and CloudTrail's.

Both arrive in the same EventBridge envelope, read here with a plain `detail`; the handler then
reads the detail with the contract's own model for its detail-type, so a Decided event is read
exactly as Decide wrote it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from acceptor.contract import DetailType

DECIDED = DetailType.DECIDED.value
STATE_CHANGED = DetailType.STATE_CHANGED.value
CLOUDTRAIL_CALL = "AWS API Call via CloudTrail"


class Envelope(EventBridgeModel):
    """The EventBridge envelope of every event NotifyFunction receives (both buses)."""

    detail: dict[str, Any]


# Put by SecurityGroupsFunction (contract: acceptor.contract.SecurityGroupsUpdatedDetail). Read
# here with a tolerant view of the fields a message shows: only its warnings and failures are
# worth a message.
SECURITY_GROUPS_UPDATED = DetailType.SECURITY_GROUPS_UPDATED.value


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GroupWarning(_View):
    code: str
    message: str
    group_id: str | None = None
    side: str | None = None


class GroupOutcome(_View):
    side: str
    group_id: str
    status: str
    added: list[dict[str, Any]] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    shared_with: list[str] = Field(default_factory=list)
    reason: str | None = None


class SecurityGroupsUpdated(_View):
    service_id: str | None = None
    endpoint_id: str
    account: str | None = None
    operation: str | None = None
    dry_run: bool = False
    cidrs: list[str] = Field(default_factory=list)
    groups: list[GroupOutcome] = Field(default_factory=list)
    warnings: list[GroupWarning] = Field(default_factory=list)
    updated_at: str | None = None
    correlation_id: str | None = None

    @property
    def needs_attention(self) -> bool:
        return bool(self.warnings) or any(g.status == "failed" for g in self.groups)
