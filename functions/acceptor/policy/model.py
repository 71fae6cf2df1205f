"""The shape of a version 1 policy file (DESIGN.md, "Policy language").

This module checks one file at a time. Checks across files (duplicate rule names, unknown
channels) live in the loader, which also maps every error back to `path:line`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

Decision = Literal["accept", "reject", "hold"]
DECISIONS: tuple[Decision, ...] = ("accept", "reject", "hold")

# One table of ID forms: the validator and the JSON Schema read the same entry.
ID_FORMS: dict[str, tuple[str, str]] = {
    "account": (r"^\d{12}$", "a 12-digit AWS account ID as a quoted string"),
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
        r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$",
        "an AWS region name such as us-east-1",
    ),
    "name": (
        r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        "a name of letters, digits, '-', '_' or '.' (at most 64 characters)",
    ),
}


def _id_type(kind: str) -> Any:
    pattern, what = ID_FORMS[kind]
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    def refuse_numbers(value: Any) -> Any:
        # YAML turns an unquoted 111122223333 into an int, and 011122223333 into an octal int:
        # a number here is never trusted as an ID.
        if isinstance(value, bool | int | float):
            raise ValueError(f"{value!r} is a number, not {what}; quote it")
        return value

    return Annotated[
        str,
        BeforeValidator(refuse_numbers),
        AfterValidator(check),
        WithJsonSchema({"type": "string", "pattern": pattern, "description": what}),
    ]


AccountId = _id_type("account")
VpcId = _id_type("vpc")
EndpointId = _id_type("endpoint")
ServiceId = _id_type("service")
SecurityGroupId = _id_type("security_group")
OuId = _id_type("ou")
Region = _id_type("region")
Name = _id_type("name")

ServiceRef = Annotated[
    str,
    AfterValidator(
        lambda v: v if v == "*" else _check_service(v),
    ),
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


def _check_service(value: str) -> str:
    pattern, what = ID_FORMS["service"]
    if not re.match(pattern, value):
        raise ValueError(f"{value!r} is not {what} or '*'")
    return value


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DURATION_PATTERN = r"^(?=\d)(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$"


def parse_duration(value: Any) -> timedelta:
    """Parse `72h`, `3d`, `1d12h`, `90m`, `30s` into a positive timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write it like 72h, 3d, 1d12h or 90m")
    match = _DURATION.match(value)
    if not value or not match:
        raise ValueError(f"{value!r} is not a duration; write it like 72h, 3d, 1d12h or 90m")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise ValueError(f"{value!r} is not a positive duration")
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

TagKey = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
TagValue = Annotated[str, Field(max_length=256, strict=True)]
# A listed tag key must be present with one of the listed values; "*" means any value.
TagCondition = dict[TagKey, TagValue | Annotated[list[TagValue], Field(min_length=1)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Conditions(_Strict):
    """Inside `when` every key must hold (AND); inside a list any item (OR)."""

    accounts: Annotated[list[AccountId], Field(min_length=1)] | None = None
    organizational_units: Annotated[list[OuId], Field(min_length=1)] | None = None
    vpcs: Annotated[list[VpcId], Field(min_length=1)] | None = None
    regions: Annotated[list[Region], Field(min_length=1)] | None = None
    endpoints: Annotated[list[EndpointId], Field(min_length=1)] | None = None
    tags: Annotated[TagCondition, Field(min_length=1)] | None = None
    vpc_tags: Annotated[TagCondition, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Conditions:
        if not self.present():
            raise ValueError(
                "a rule needs at least one condition (accounts, organizational_units, vpcs, "
                "regions, endpoints, tags or vpc_tags)"
            )
        return self

    def present(self) -> dict[str, Any]:
        """The conditions this rule sets, by name."""
        return {name: value for name, value in self if value is not None}


class ConsumerEndpointGroups(_Strict):
    ports: Annotated[list[Port], Field(min_length=1)]
    allow_shared_groups: bool = False


class ProviderGroup(_Strict):
    group: SecurityGroupId
    ports: Annotated[list[Port], Field(min_length=1)]


class SecurityGroups(_Strict):
    consumer_endpoint: ConsumerEndpointGroups | None = None
    provider: ProviderGroup | None = None


class Rule(_Strict):
    name: Name
    decision: Decision
    when: Conditions
    security_groups: SecurityGroups | None = None
    notify: list[Name] = Field(default_factory=list)

    @model_validator(mode="after")
    def _groups_only_on_accept(self) -> Rule:
        if self.security_groups is not None and self.decision != "accept":
            raise ValueError(
                f"security_groups is only allowed on accept rules (this rule decides "
                f"{self.decision})"
            )
        return self


class HoldSettings(_Strict):
    expires_after: Duration | None = None


class _WebhookChannel(_Strict):
    """A channel whose URL is a secret: from Secrets Manager or an SSM SecureString."""

    webhook_secret: str | None = Field(
        default=None, min_length=1, description="Secrets Manager secret name or ARN"
    )
    webhook_parameter: str | None = Field(
        default=None, min_length=1, description="SSM SecureString parameter name"
    )

    @model_validator(mode="after")
    def _one_source(self) -> _WebhookChannel:
        if (self.webhook_secret is None) == (self.webhook_parameter is None):
            raise ValueError("give exactly one of webhook_secret or webhook_parameter")
        return self


class SlackChannel(_WebhookChannel):
    type: Literal["slack"]


class TeamsChannel(_WebhookChannel):
    type: Literal["teams"]


class WebhookChannel(_WebhookChannel):
    type: Literal["webhook"]


class SnsChannel(_Strict):
    type: Literal["sns"]
    topic_arn: str | None = Field(
        default=None, description="defaults to the stack's notification topic"
    )


Channel = Annotated[
    SlackChannel | TeamsChannel | WebhookChannel | SnsChannel, Field(discriminator="type")
]


class PolicyFile(_Strict):
    """One policy file. `version` is required; everything else has a safe default."""

    schema_ref: str | None = Field(default=None, alias="$schema")
    version: Literal[1]
    services: Annotated[list[ServiceRef], Field(min_length=1)]
    default: Decision = "hold"
    hold: HoldSettings = Field(default_factory=HoldSettings)
    revoke: bool = False
    notify: list[Name] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    notifications: dict[Name, Channel] = Field(default_factory=dict)

    def governs(self, service_id: str) -> bool:
        return "*" in self.services or service_id in self.services
