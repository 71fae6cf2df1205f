"""Security-group work as data: the permissions a connection needs, the rules a group has, what we
own, and what happened. Pure: no boto3, no environment, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from acceptor.security_groups.marking import MANAGED_TAG

Side = Literal["consumer_endpoint", "provider"]
"""`consumer_endpoint`: the endpoint's own groups, in the consumer account, through the consumer
role. `provider`: the NLB's group named in the policy, in this account."""

Operation = Literal["add", "remove"]

PROTOCOL = "tcp"


@dataclass(frozen=True, order=True)
class Permission:
    """One ingress permission we add: TCP on one port from one CIDR (normalised by `sources`)."""

    port: int
    cidr: str

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is outside 1-65535")

    @property
    def ipv6(self) -> bool:
        return ":" in self.cidr

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "port": self.port, "cidr": self.cidr}


@dataclass(frozen=True)
class ExistingRule:
    """One rule of a group as `DescribeSecurityGroupRules` reports it."""

    rule_id: str
    group_id: str
    egress: bool
    protocol: str
    from_port: int | None
    to_port: int | None
    cidr: str | None
    """`CidrIpv4` or `CidrIpv6`; None when the source is a group or a prefix list."""
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

    def grants(self, permission: Permission) -> bool:
        """Exactly this permission, the way EC2 judges a duplicate: a wider rule that happens to
        cover it does not count, so our rules never depend on someone else's."""
        return (
            not self.egress
            and self.protocol == PROTOCOL
            and self.from_port == permission.port
            and self.to_port == permission.port
            and self.cidr == permission.cidr
        )


@dataclass(frozen=True)
class GroupRecord:
    """What we own in one group for one endpoint: kept in the rule table, never expires."""

    endpoint_id: str
    group_id: str
    side: Side
    owner_account: str
    region: str
    claim: str
    rule_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ConsumerEndpoint:
    """The consumer's view of its endpoint (only readable through the consumer role)."""

    endpoint_id: str
    vpc_id: str
    state: str
    group_ids: tuple[str, ...]
    interface_ids: tuple[str, ...]


Enforcement = Literal["on", "off", "unknown"]


@dataclass(frozen=True)
class LoadBalancer:
    """A load balancer of the endpoint service, as the provider sees it."""

    arn: str
    group_ids: tuple[str, ...]
    enforcement: Enforcement
    """`EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic`; `unknown` when not reported (moto
    does not report it), which is treated like `on`: the cautious reading."""


@dataclass(frozen=True)
class AuthorizeResult:
    created: Mapping[Permission, str]
    """Permission -> ID of the rule this call created: the only rules we record as ours."""
    duplicates: tuple[Permission, ...] = ()
    """Already present when we tried (`InvalidPermission.Duplicate`): someone else's rule."""


@dataclass(frozen=True)
class RevokeResult:
    revoked: tuple[str, ...]
    already_gone: tuple[str, ...] = ()


# Why something was not done, or needs a person. The code is stable (alarms and filters use it).
FINDINGS: dict[str, str] = {
    "consumer-unavailable": "the consumer role could not be used; the consumer side is skipped",
    "connection-ended": "the connection was rejected, deleted or is gone; nothing is added",
    "endpoint-not-found": "the consumer endpoint no longer exists; its groups are not touched",
    "cidrs-unknown": "the consumer VPC CIDRs are unknown; no rule is added anywhere",
    "cidr-refused": "a CIDR wider than a VPC can have (or not a CIDR), a public IPv4 range "
    "the policy does not allow, or one over the policy's max_cidrs is never opened",
    "shared-group": "the group is used by other network interfaces; left untouched",
    "nlb-enforces-unknown-cidrs": "the NLB filters PrivateLink traffic by client IP and the "
    "consumer CIDRs are unknown: the connection will not work until they are known",
    "group-not-on-load-balancer": "the policy's provider group is not on the service's NLB",
    "no-load-balancer-groups": "the service's NLB has no security groups: no provider rule is "
    "needed for traffic to pass",
    "group-not-found": "the security group does not exist",
    "access-denied": "not allowed to change the group: IAM (a provider group needs the tag "
    f"{MANAGED_TAG}=true; a consumer role needs AllowSecurityGroupWrites and its scope)",
    "rule-limit": "the group has reached its rule quota",
    "lookalike-left": "a rule marked for this endpoint that we did not create: left in place",
    "record-kept": "our rules could not be removed now; the record is kept for the next try",
    "rule-still-held": "a rule of ours that other live connections hold too: left in place",
    "intent-open": "an earlier change of the group may be unrecorded and could not be "
    "completed now; its intent stays open for the next try",
}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    group_id: str | None = None
    side: Side | None = None

    def __post_init__(self) -> None:
        if self.code not in FINDINGS:
            raise ValueError(f"unknown finding code {self.code!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "group_id": self.group_id,
            "side": self.side,
        }


GroupStatus = Literal[
    "added",  # rules added now
    "unchanged",  # everything needed was already there
    "planned",  # dry run: what would be added or removed
    "removed",  # our rules revoked (or already gone)
    "skipped",  # not touched on purpose (shared, unknown CIDRs, endpoint gone)
    "failed",  # tried and refused by AWS (denied, not found, quota); see findings
]


@dataclass(frozen=True)
class AddedRule:
    permission: Permission
    rule_id: str | None
    """None in a dry run: nothing was created."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.permission.to_dict(), "rule_id": self.rule_id}


@dataclass(frozen=True)
class GroupOutcome:
    side: Side
    group_id: str
    owner_account: str
    status: GroupStatus
    added: tuple[AddedRule, ...] = ()
    present: tuple[AddedRule, ...] = ()
    """Needed permissions already granted: by a rule of ours (`rule_id` recorded) or by someone
    else's identical rule (which we never record, so never remove)."""
    removed: tuple[str, ...] = ()
    shared_with: tuple[str, ...] = ()
    """Network interfaces other than the endpoint's that use this group."""
    reason: str | None = None
    kept: tuple[str, ...] = ()
    """Our rules left in place because other live connections hold them too."""
    rules_used: int | None = None
    """Inbound rules of the group after an add (the IP version nearer the quota)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "group_id": self.group_id,
            "owner_account": self.owner_account,
            "status": self.status,
            "added": [rule.to_dict() for rule in self.added],
            "present": [rule.to_dict() for rule in self.present],
            "removed": list(self.removed),
            "shared_with": list(self.shared_with),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Report:
    """What one event led to: the detail of `Endpoint Connection Security Groups Updated`."""

    operation: Operation | None
    endpoint_id: str
    service_id: str | None
    account: str | None
    region: str | None
    dry_run: bool
    trigger: str
    groups: tuple[GroupOutcome, ...] = ()
    findings: tuple[Finding, ...] = ()
    cidrs: tuple[str, ...] = ()
    """The consumer CIDRs used as sources (empty when unknown, or for a removal)."""
    cidrs_from: str | None = None
    """`consumer-role` (read now); None when unknown. (`decided-event` is a value of the
    contract that is no longer written: an event's CIDRs are never opened.)"""

    @property
    def changed(self) -> bool:
        return any(g.status in ("added", "removed") for g in self.groups)

    def to_detail(self, *, correlation_id: str | None, updated_at: str) -> dict[str, Any]:
        return {
            "version": "1",
            "service_id": self.service_id,
            "endpoint_id": self.endpoint_id,
            "account": self.account,
            "region": self.region,
            "operation": self.operation,
            "trigger": self.trigger,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "cidrs": list(self.cidrs),
            "cidrs_from": self.cidrs_from,
            "groups": [group.to_dict() for group in self.groups],
            "warnings": [finding.to_dict() for finding in self.findings],
            "updated_at": updated_at,
            "correlation_id": correlation_id,
        }


class SecurityGroupError(Exception):
    """A security-group step that AWS refused for a reason we know how to report."""

    code = "access-denied"

    def __init__(self, message: str, *, group_id: str | None = None) -> None:
        super().__init__(message)
        self.group_id = group_id


class GroupNotFound(SecurityGroupError):
    code = "group-not-found"


class GroupAccessDenied(SecurityGroupError):
    code = "access-denied"


class RuleLimitExceeded(SecurityGroupError):
    code = "rule-limit"


class EndpointNotFound(SecurityGroupError):
    code = "endpoint-not-found"


class ConsumerUnavailable(SecurityGroupError):
    """The consumer role is not configured, missing, or denied: consumer facts are unknown."""

    code = "consumer-unavailable"


@dataclass(frozen=True)
class Intent:
    """One planned change of one group for one endpoint, as the rule table keeps it
    (`acceptor.security_groups.intents`; docs/security-groups.md, "Intents")."""

    operation: Operation
    record: GroupRecord
    """The endpoint's record of the group (its claim is the tag of every rule it adds)."""
    permissions: tuple[Permission, ...] = ()
    """An add: the permissions about to be authorized."""
    rule_ids: tuple[str, ...] = ()
    """A remove: the rule IDs about to be revoked."""
    started_at: str = ""
    """Stamped by the store when it is written; ends only this intent (a newer one stays)."""

    @property
    def endpoint_id(self) -> str:
        return self.record.endpoint_id

    @property
    def group_id(self) -> str:
        return self.record.group_id
