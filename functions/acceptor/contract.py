"""The bus contract: the detail of every event the acceptor puts on its bus (docs/events.md).

Readers are tolerant (unknown fields are ignored, so a producer may add optional fields without
a new version); writers produce exactly these models. A change that removes, renames or changes
the meaning of a field bumps `version`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from acceptor.decision.connection import Connection
from acceptor.notification import EventType

SOURCE = "privatelink-acceptor"
CONTRACT_VERSION: Literal["1"] = "1"


class DetailType(StrEnum):
    REQUESTED = "Endpoint Connection Requested"
    DECIDED = "Endpoint Connection Decided"
    STATE_CHANGED = "Endpoint Connection State Changed"
    SECURITY_GROUPS_UPDATED = "Endpoint Connection Security Groups Updated"


Origin = Literal["notification", "sweep", "hold-expired", "revocation", "approval"]
DecisionName = Literal["accept", "reject", "hold", "ignore"]
ActionType = Literal["accept", "reject", "none"]
ActionResult = Literal["succeeded", "failed", "skipped", "dry-run"]

ServiceIdText = Annotated[str, Field(pattern=r"^vpce-svc-[0-9a-f]{8,17}$")]
EndpointIdText = Annotated[str, Field(pattern=r"^vpce-[0-9a-f]{8,17}$")]
AccountText = Annotated[str, Field(pattern=r"^\d{12}$")]


def _aware(value: datetime) -> datetime:
    # A naive time would be read as local time somewhere downstream: refuse the ambiguity.
    if value.tzinfo is None:
        raise ValueError("a time needs its offset (e.g. 2025-01-31T12:00:00Z)")
    return value.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_aware)]


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Literal["1"] = CONTRACT_VERSION

    def to_event_detail(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class RequestedDetail(_Detail):
    """A pending connection to decide (or an available one to re-check, origin `revocation`)."""

    service_id: ServiceIdText
    endpoint_id: EndpointIdText
    account: AccountText
    region: str
    state: str
    created_at: Timestamp
    origin: Origin
    correlation_id: str

    @classmethod
    def of(cls, connection: Connection, origin: Origin, correlation_id: str) -> RequestedDetail:
        """The request to decide a re-read connection: every field but the origin and the
        correlation comes from the re-read, never from the message that made us look."""
        return cls(
            service_id=connection.service_id,
            endpoint_id=connection.endpoint_id,
            account=connection.account,
            region=connection.region,
            state=connection.state,
            created_at=connection.created_at,
            origin=origin,
            correlation_id=correlation_id,
        )


class Action(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ActionType
    result: ActionResult
    error: str | None = None


class RuleStatus(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    decision: Literal["accept", "reject", "hold"]
    status: Literal["matched", "unmatched", "unknown"]
    file: str
    unknown_facts: list[str] = Field(default_factory=list)


class DecidedDetail(_Detail):
    service_id: ServiceIdText
    endpoint_id: EndpointIdText
    account: AccountText
    region: str
    origin: Origin
    decision: DecisionName
    rule: str | None
    reason: str
    missing_facts: list[str]
    unknown_reasons: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleStatus]
    """The rules that matched or were unknown, up to a cap (the deciding rule always among
    them); unmatched rules are left out (docs/events.md, "Bounded rule lists")."""
    rules_omitted: int = 0
    """Matched or unknown rules past the cap, not listed."""
    rules_unmatched: int = 0
    """Governing rules that did not match, not listed."""
    policy_hash: str
    dry_run: bool
    action: Action
    state_before: str | None
    state_after: str | None
    security_groups: dict[str, Any] | None
    """The deciding accept rule's `security_groups`, as written in the policy; else null."""
    notify: list[str]
    vpc_id: str | None
    vpc_cidrs: list[str] | None
    """IPv4 and IPv6 CIDR blocks of the consumer VPC; null when unknown."""
    revocation: Literal["reported", "enforced"] | None = None
    approved_by: str | None = None
    """The person whose approval record decided (origin `approval`); else null."""
    approval_reason: str | None = None
    hold_expires_at: Timestamp | None = None
    """For a hold: when it turns into a reject (hold.expires_after); null when it never does."""
    created_at: Timestamp | None
    decided_at: Timestamp
    correlation_id: str


class StateChangedDetail(_Detail):
    service_id: ServiceIdText | None
    endpoint_id: EndpointIdText
    account: AccountText | None
    region: str | None
    state: str
    event_type: EventType | None
    found: bool
    """False when DescribeVpcEndpointConnections no longer shows the connection."""
    correlation_id: str


GroupSide = Literal["consumer_endpoint", "provider"]


class SecurityGroupRule(BaseModel):
    """One ingress permission: TCP on one port from one CIDR, with the rule's ID once created."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    protocol: Literal["tcp"]
    port: int = Field(ge=1, le=65535)
    cidr: str
    rule_id: str | None
    """None in a dry run (nothing was created)."""


class SecurityGroupOutcome(BaseModel):
    """What happened to one group."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    side: GroupSide
    group_id: str
    owner_account: AccountText
    status: Literal["added", "unchanged", "planned", "removed", "skipped", "failed"]
    added: list[SecurityGroupRule]
    present: list[SecurityGroupRule]
    """Needed permissions already granted (by our rule, or by someone else's identical one)."""
    removed: list[str]
    """IDs of the rules removed (ours only)."""
    shared_with: list[str]
    """Network interfaces other than the endpoint's that use the group."""
    reason: str | None


class SecurityGroupWarning(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    message: str
    group_id: str | None
    side: GroupSide | None


class SecurityGroupsUpdatedDetail(_Detail):
    """Put by SecurityGroups after adding (accept) or removing (reject, deleted...) the ingress
    rules of a connection; also what it writes to the decision log."""

    service_id: ServiceIdText | None
    endpoint_id: EndpointIdText
    account: AccountText | None
    region: str | None
    operation: Literal["add", "remove"]
    trigger: str
    """`accept`, `reject`, or `state:<state>` for a State Changed event."""
    dry_run: bool
    changed: bool
    """True when some group got or lost a rule (never in a dry run)."""
    cidrs: list[str]
    cidrs_from: Literal["consumer-role", "decided-event"] | None
    groups: list[SecurityGroupOutcome]
    warnings: list[SecurityGroupWarning]
    updated_at: Timestamp
    correlation_id: str | None


DETAIL_MODELS: dict[DetailType, type[_Detail]] = {
    DetailType.REQUESTED: RequestedDetail,
    DetailType.DECIDED: DecidedDetail,
    DetailType.STATE_CHANGED: StateChangedDetail,
    DetailType.SECURITY_GROUPS_UPDATED: SecurityGroupsUpdatedDetail,
}


class BusEvent(BaseModel):
    """One PutEvents entry, before it is given to the bus adapter."""

    model_config = ConfigDict(frozen=True)

    detail_type: DetailType
    detail: _Detail
    resources: tuple[str, ...] = ()

    def entry(self, bus_name: str) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type.value,
            "Detail": json.dumps(self.detail.to_event_detail(), separators=(",", ":")),
            "EventBusName": bus_name,
            "Resources": list(self.resources),
        }


def requested(detail: RequestedDetail) -> BusEvent:
    return BusEvent(detail_type=DetailType.REQUESTED, detail=detail)


def decided(detail: DecidedDetail) -> BusEvent:
    return BusEvent(detail_type=DetailType.DECIDED, detail=detail)


def state_changed(detail: StateChangedDetail) -> BusEvent:
    return BusEvent(detail_type=DetailType.STATE_CHANGED, detail=detail)


def security_groups_updated(
    detail: SecurityGroupsUpdatedDetail, resources: tuple[str, ...] = ()
) -> BusEvent:
    return BusEvent(
        detail_type=DetailType.SECURITY_GROUPS_UPDATED, detail=detail, resources=resources
    )


# The same events as Lambda receives them from the bus (an EventBridge envelope): what the
# handlers of this and the next functions parse at their boundary. `account` is always there in
# AWS; moto's bus-to-queue delivery leaves it out, and nothing here reads it.
class _FromBus(EventBridgeModel):
    account: str | None = None  # type: ignore[assignment]


class RequestedEvent(_FromBus):
    source: Literal["privatelink-acceptor"]
    detail_type: Literal["Endpoint Connection Requested"] = Field(alias="detail-type")
    detail: RequestedDetail


class DecidedEvent(_FromBus):
    source: Literal["privatelink-acceptor"]
    detail_type: Literal["Endpoint Connection Decided"] = Field(alias="detail-type")
    detail: DecidedDetail


class StateChangedEvent(_FromBus):
    source: Literal["privatelink-acceptor"]
    detail_type: Literal["Endpoint Connection State Changed"] = Field(alias="detail-type")
    detail: StateChangedDetail


class SecurityGroupsUpdatedEvent(_FromBus):
    source: Literal["privatelink-acceptor"]
    detail_type: Literal["Endpoint Connection Security Groups Updated"] = Field(alias="detail-type")
    detail: SecurityGroupsUpdatedDetail
