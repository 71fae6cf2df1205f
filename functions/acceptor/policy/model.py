"""The shape of a version 1 policy file (docs/policy.md).

This module checks one file at a time. Checks across files (duplicate rule names, unknown
channels) live in the loader, which also maps every error back to `path:line`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

Decision = Literal["accept", "reject", "hold"]
DECISIONS: tuple[Decision, ...] = ("accept", "reject", "hold")

# One table of ID forms: the validator and the JSON Schema read the same entry. `[0-9]`, not
# `\d`, which in Python also matches non-ASCII digits; validators use fullmatch, because `$`
# lets a trailing newline (from a YAML block scalar) through.
ID_FORMS: dict[str, tuple[str, str]] = {
    "account": (r"^[0-9]{12}$", "a 12-digit AWS account ID"),
    "vpc": (r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$", "a VPC ID (vpc- and 8 or 17 hex digits)"),
    "endpoint": (
        r"^vpce-(?:[0-9a-f]{8}|[0-9a-f]{17})$",
        "a VPC endpoint ID (vpce- and 8 or 17 hex digits)",
    ),
    "service": (
        r"^vpce-svc-(?:[0-9a-f]{8}|[0-9a-f]{17})$",
        "an endpoint service ID (vpce-svc- and 8 or 17 hex digits)",
    ),
    "security_group": (
        r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$",
        "a security group ID (sg- and 8 or 17 hex digits)",
    ),
    "ou": (
        r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$",
        "an organizational unit ID (ou-xxxx-xxxxxxxx)",
    ),
    "region": (
        r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]$",
        "an AWS region name such as us-east-1",
    ),
    "name": (
        r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        "a name of letters, digits, '-', '_' or '.' (at most 64 characters)",
    ),
    # IAM principals a person acts as (root, a user, a role, a role's session) in any
    # partition, or a Slack user ID (U... or W... for Enterprise Grid). IAM names and paths are
    # letters, digits and +=,.@_- (IAM's own rule); a role ARN also matches its sessions.
    "approver": (
        r"^(?:arn:aws(?:-[a-z]+)*:(?:iam::[0-9]{12}:(?:root|(?:user|role)/(?:[A-Za-z0-9+=,.@_-]+/)*"
        r"[A-Za-z0-9+=,.@_-]{1,128})|sts::[0-9]{12}:assumed-role/[A-Za-z0-9+=,.@_-]{1,64}/"
        r"[A-Za-z0-9+=,.@_-]{2,64})|slack:[UW][A-Z0-9]{2,20})$",
        "an IAM principal ARN (arn:aws:iam::123456789012:role/Name, user/Name, root, or "
        "arn:aws:sts::123456789012:assumed-role/Name/session) or slack:USERID (slack:U0123ABCD)",
    ),
}

# Compiled once: the check runs for every ID of every rule (a million at 100,000 rules).
_ID_PATTERNS = {kind: re.compile(pattern) for kind, (pattern, _) in ID_FORMS.items()}

# Error types of our own, so that the loader picks its messages by type, never by text.
NUMBER_NOT_ID = "number_not_id"
NULL_VALUE = "null_value"
UNSUPPORTED_VERSION = "unsupported_version"


@dataclass(frozen=True)
class IdForm:
    """`Annotated[str, IdForm("vpc")]`: a string of one ID form from `ID_FORMS`."""

    kind: str

    def check(self, value: str) -> str:
        if not _ID_PATTERNS[self.kind].fullmatch(value):
            raise ValueError(f"{value!r} is not {ID_FORMS[self.kind][1]}")
        return value

    def refuse_numbers(self, value: Any) -> Any:
        # YAML turns an unquoted 111122223333 into an int, and 011122223333 into an octal int:
        # a number here is never trusted as an ID.
        if isinstance(value, bool | int | float):
            raise PydanticCustomError(
                NUMBER_NOT_ID,
                "{value} is a number, not {what}; quote it",
                {"value": repr(value), "what": ID_FORMS[self.kind][1]},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        checked = core_schema.no_info_after_validator_function(self.check, handler(source))
        return core_schema.no_info_before_validator_function(self.refuse_numbers, checked)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        pattern, what = ID_FORMS[self.kind]
        return {"type": "string", "pattern": pattern, "description": what}


AccountId = Annotated[str, IdForm("account")]
VpcId = Annotated[str, IdForm("vpc")]
EndpointId = Annotated[str, IdForm("endpoint")]
ServiceId = Annotated[str, IdForm("service")]
SecurityGroupId = Annotated[str, IdForm("security_group")]
OuId = Annotated[str, IdForm("ou")]
Region = Annotated[str, IdForm("region")]
Name = Annotated[str, IdForm("name")]
Approver = Annotated[str, IdForm("approver")]


def _check_service_ref(value: str) -> str:
    if value != "*" and not _ID_PATTERNS["service"].fullmatch(value):
        raise ValueError(f"{value!r} is not {ID_FORMS['service'][1]} or '*'")
    return value


ServiceRef = Annotated[
    str,
    Field(strict=True),
    AfterValidator(_check_service_ref),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "*"},
                {"type": "string", "pattern": ID_FORMS["service"][0]},
            ],
            "description": "an endpoint service ID, or '*' for every managed service",
        }
    ),
]


def _reject_null(value: Any) -> Any:
    # `accounts:` with its items commented out is null. Read as "no condition", it would widen
    # the rule to every account: an explicit null is refused everywhere, never taken as absent.
    if value is None:
        raise PydanticCustomError(NULL_VALUE, "has no value; give a value or remove the key")
    return value


NotNull = BeforeValidator(_reject_null)


def _exact_version(value: Any) -> Any:
    # Literal[1] alone also takes True and 1.0; only the integer 1 is version 1.
    if type(value) is not int or value != 1:
        raise PydanticCustomError(
            UNSUPPORTED_VERSION,
            "{value} is not a supported version; write version: 1 (a number, not quoted)",
            {"value": repr(value)},
        )
    return value


_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
DURATION_PATTERN = r"^(?=[0-9])(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$"


def parse_duration(value: Any) -> timedelta:
    """Parse `72h`, `3d`, `1d12h`, `90m`, `30s` into a positive timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write it like 72h, 3d, 1d12h or 90m")
    match = _DURATION.fullmatch(value)
    if not value or not match:
        raise ValueError(f"{value!r} is not a duration; write it like 72h, 3d, 1d12h or 90m")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise ValueError(f"{value!r} is not a positive duration; write it like 72h or 3d")
    return duration


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "description": "e.g. 72h, 3d, 1d12h, 90m"}
    ),
]

Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Ports = Annotated[list[Port], Field(min_length=1, description="TCP ports, 1 to 65535")]
# Strict: pydantic would otherwise read the string "no" as False.
Flag = Annotated[bool, Field(strict=True)]

TagKey = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
TagValue = Annotated[str, Field(max_length=256, strict=True)]
# A listed tag key must be present with one of the listed values; "*" means any value.
TagCondition = dict[TagKey, TagValue | Annotated[list[TagValue], Field(min_length=1)]]

AccountList = Annotated[list[AccountId], Field(min_length=1)]
OuList = Annotated[list[OuId], Field(min_length=1)]
VpcList = Annotated[list[VpcId], Field(min_length=1)]
RegionList = Annotated[list[Region], Field(min_length=1)]
EndpointList = Annotated[list[EndpointId], Field(min_length=1)]
TagConditions = Annotated[TagCondition, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Conditions(_Strict):
    """Inside `when` every key must hold (AND); inside a list any item (OR)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    accounts: Annotated[AccountList | None, NotNull] = Field(
        default=None, description="consumer account IDs, quoted (always known)"
    )
    organizational_units: Annotated[OuList | None, NotNull] = Field(
        default=None,
        description="the consumer account is in one of these OUs or below (needs Organizations)",
    )
    vpcs: Annotated[VpcList | None, NotNull] = Field(
        default=None, description="consumer VPC IDs (needs the consumer role)"
    )
    regions: Annotated[RegionList | None, NotNull] = Field(
        default=None, description="consumer regions (always known)"
    )
    endpoints: Annotated[EndpointList | None, NotNull] = Field(
        default=None, description="registered VPC endpoint IDs (always known)"
    )
    tags: Annotated[TagConditions | None, NotNull] = Field(
        default=None,
        description="consumer endpoint tags: every key present with one of its values; "
        "'*' means any value (needs the consumer role)",
    )
    vpc_tags: Annotated[TagConditions | None, NotNull] = Field(
        default=None, description="consumer VPC tags, as for tags (needs the consumer role)"
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> Conditions:
        # The fields' values directly: `present()` builds a dict, for every rule of the policy.
        if all(value is None for value in self.__dict__.values()):
            raise ValueError(
                "a rule needs at least one condition (accounts, organizational_units, vpcs, "
                "regions, endpoints, tags or vpc_tags)"
            )
        return self

    def present(self) -> dict[str, Any]:
        """The conditions this rule sets, by name."""
        return {name: value for name, value in self if value is not None}


class ConsumerEndpointGroups(_Strict):
    """Allow the ports from the consumer VPC CIDRs on the consumer endpoint's security groups."""

    ports: Ports
    allow_shared_groups: Flag = Field(
        default=False,
        description="also change a group that other network interfaces use (off by default)",
    )


class ProviderGroup(_Strict):
    """Allow the ports from the consumer's addresses on the provider's NLB security group."""

    group: SecurityGroupId
    ports: Ports


class SecurityGroups(_Strict):
    """Security group changes made after an accept, removed again when the connection goes."""

    consumer_endpoint: Annotated[ConsumerEndpointGroups | None, NotNull] = None
    provider: Annotated[ProviderGroup | None, NotNull] = None
    # docs/security-groups.md, "Which CIDRs": a consumer cannot fill a group's rule quota, and
    # a public range is never opened by accident.
    max_cidrs: Annotated[int, Field(strict=True, ge=1, le=50)] = Field(
        default=5, description="at most this many consumer CIDR blocks per connection and group"
    )
    allow_public_cidrs: Flag = Field(
        default=False,
        description="also open public IPv4 blocks of the consumer VPC (private ranges only by "
        "default)",
    )


class Rule(_Strict):
    """One rule: a decision taken when every condition in `when` holds."""

    # Editors flag security_groups on a reject or hold rule, as the validator does.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["security_groups"]},
            "then": {"properties": {"decision": {"const": "accept"}}},
        }
    )

    name: Name = Field(description="unique across all policy files")
    decision: Decision
    when: Conditions
    security_groups: Annotated[SecurityGroups | None, NotNull] = Field(
        default=None, description="only on accept rules"
    )
    notify: list[Name] = Field(
        default_factory=list, description="channels told about this rule's decisions"
    )

    @model_validator(mode="after")
    def _groups_only_on_accept(self) -> Rule:
        if self.security_groups is not None and self.decision != "accept":
            raise ValueError(
                f"security_groups is only allowed on accept rules (this rule decides "
                f"{self.decision}); remove it or make the rule decide accept"
            )
        return self


class HoldSettings(_Strict):
    expires_after: Annotated[Duration | None, NotNull] = Field(
        default=None, description="held requests are rejected after this long, e.g. 72h"
    )


OverLimitDecision = Literal["hold", "reject"]


class Limits(_Strict):
    """How many connections one consumer account may have to each service this file governs
    (docs/policy.md, "limits")."""

    per_account: Annotated[int, Field(strict=True, ge=1)] = Field(
        description="connections one account may have to each governed service (pending or "
        "available, the request itself included); at least 1"
    )
    over_limit: OverLimitDecision = Field(
        default="hold",
        description="the decision for a request the rules would accept but that is over the "
        "limit: hold or reject",
    )


class Approval(_Strict):
    """How a person's approval of a held request acts (docs/policy.md, "approval"): read by
    ApprovalFunction (approvers, expiry), Decide and SecurityGroups (security_groups)."""

    approvers: Annotated[Annotated[list[Approver], Field(min_length=1)] | None, NotNull] = Field(
        default=None,
        description="who may approve: IAM principal ARNs (a role ARN also matches its "
        "sessions) or slack:USERID; without it, anyone IAM lets call the approval URL",
    )
    security_groups: Annotated[SecurityGroups | None, NotNull] = Field(
        default=None, description="opened when a person approves, as on an accept rule"
    )
    expires_after: Annotated[Duration | None, NotNull] = Field(
        default=None, description="an approval not yet used lapses after this long, e.g. 14d"
    )


class _WebhookChannel(_Strict):
    """A channel whose URL is a secret: from Secrets Manager or an SSM SecureString."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["webhook_secret"]}, {"required": ["webhook_parameter"]}]
        }
    )

    webhook_secret: Annotated[str | None, NotNull] = Field(
        default=None, min_length=1, description="Secrets Manager secret name or ARN"
    )
    webhook_parameter: Annotated[str | None, NotNull] = Field(
        default=None, min_length=1, description="SSM SecureString parameter name"
    )

    @model_validator(mode="after")
    def _one_source(self) -> _WebhookChannel:
        if (self.webhook_secret is None) == (self.webhook_parameter is None):
            raise ValueError("give exactly one of webhook_secret or webhook_parameter")
        return self


class SlackChannel(_WebhookChannel):
    type: Literal["slack"]
    signing_secret: Annotated[str | None, NotNull] = Field(
        default=None,
        min_length=1,
        description="Secrets Manager secret name or ARN of the Slack app's signing secret: "
        "held messages then carry Approve and Reject buttons",
    )


class TeamsChannel(_WebhookChannel):
    type: Literal["teams"]


class WebhookChannel(_WebhookChannel):
    type: Literal["webhook"]


class SnsChannel(_Strict):
    type: Literal["sns"]
    topic_arn: Annotated[str | None, NotNull] = Field(
        default=None, min_length=1, description="defaults to the stack's notification topic"
    )


Channel = Annotated[
    SlackChannel | TeamsChannel | WebhookChannel | SnsChannel, Field(discriminator="type")
]


class PolicyFile(_Strict):
    """One policy file. `version` is required; everything else has a safe default."""

    schema_ref: Annotated[str | None, NotNull] = Field(
        default=None, alias="$schema", description="JSON Schema of this file, for editors"
    )
    version: Annotated[Literal[1], BeforeValidator(_exact_version)]
    services: Annotated[list[ServiceRef], Field(min_length=1)] = Field(
        description='endpoint service IDs this file governs; ["*"] = every managed service'
    )
    default: Decision = Field(default="hold", description="the decision when no rule matches")
    hold: HoldSettings = Field(default_factory=HoldSettings)
    limits: Annotated[Limits | None, NotNull] = Field(
        default=None, description="per consumer account, per governed service (optional)"
    )
    approval: Annotated[Approval | None, NotNull] = Field(
        default=None, description="how a person's approval of a held request acts (optional)"
    )
    revoke: Flag = Field(
        default=False,
        description="reject available connections the policy no longer allows (opt-in)",
    )
    notify: list[Name] = Field(
        default_factory=list, description="channels told about every decision of this file"
    )
    rules: list[Rule] = Field(default_factory=list)
    notifications: dict[Name, Channel] = Field(
        default_factory=dict, description="notification channels, by name"
    )

    def governs(self, service_id: str) -> bool:
        return "*" in self.services or service_id in self.services
