"""Settings per function: one typed model each, read once when its handler is entered.

The field aliases are the environment variables that template.yaml sets for that function, no
more and no fewer (tests/template/test_template_functions.py); docs/operations.md lists them.
No field is common to all five functions, so the base holds only the reading; the groups below
(policy, bus, consumer roles, Organizations) are mixed into the functions that use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _split_list(value: object) -> object:
    """CloudFormation passes a CommaDelimitedList to an environment variable as `a,b,c`."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


def _flag(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no", ""}:
            return False
    return value


OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]
Flag = Annotated[bool, BeforeValidator(_flag)]
TextList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]


class FunctionSettings(BaseModel):
    """The base: frozen (hashable, so a cache may key on it) and read from the environment,
    which holds far more than the function's own variables (ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        return cls.model_validate(dict(environ))


# ---------------------------------------------------------------- groups of fields (wiring.py
# takes a group where more than one function uses it)


class ManagedSettings(FunctionSettings):
    # The optional filter: the managed services are those tagged privatelink-acceptor:managed=
    # true, narrowed to these when any are named (empty: no narrowing). acceptor/managed.py.
    managed_services: TextList = Field(default=(), alias="MANAGED_SERVICE_IDS")


class PolicySettings(FunctionSettings):
    policy_path: str = Field(default="policies", alias="POLICY_PATH")


class BusSettings(FunctionSettings):
    event_bus_name: str = Field(default="privatelink-acceptor", alias="EVENT_BUS_NAME")


class DryRunSettings(FunctionSettings):
    dry_run: Flag = Field(default=False, alias="DRY_RUN")


class DecisionLogSettings(FunctionSettings):
    decision_table: OptionalText = Field(default=None, alias="DECISION_TABLE")
    decision_ttl_days: int = Field(default=400, ge=1, alias="DECISION_TTL_DAYS")


class ConsumerRoleSettings(FunctionSettings):
    consumer_role_name: OptionalText = Field(default=None, alias="CONSUMER_ROLE_NAME")
    consumer_external_id: OptionalText = Field(default=None, alias="CONSUMER_ROLE_EXTERNAL_ID")


class ApprovalTableSettings(FunctionSettings):
    # ApprovalFunction and SlackInteractionFunction write approval records here; Decide reads
    # them (origin `approval`).
    approval_table: OptionalText = Field(default=None, alias="APPROVAL_TABLE")


class OrganizationsSettings(FunctionSettings):
    organizations_access: Flag = Field(default=False, alias="ORGANIZATIONS_ACCESS")
    organizations_role_arn: OptionalText = Field(default=None, alias="ORGANIZATIONS_ROLE_ARN")


# ---------------------------------------------------------------- one model per function


class IngestSettings(ManagedSettings, BusSettings):
    """IngestFunction."""


class ReconcileSettings(ManagedSettings, PolicySettings, BusSettings):
    """ReconcileFunction: the stack's topic that every managed service's connection
    notification points at, and the prefix of the topics the stack had before (its own, to be
    repaired)."""

    connection_topic_arn: OptionalText = Field(default=None, alias="CONNECTION_TOPIC_ARN")
    connection_topic_prefix: str = Field(default="", alias="CONNECTION_TOPIC_PREFIX")


class DecideSettings(
    ManagedSettings,
    PolicySettings,
    BusSettings,
    DryRunSettings,
    DecisionLogSettings,
    ConsumerRoleSettings,
    OrganizationsSettings,
    ApprovalTableSettings,
):
    """DecideFunction."""

    idempotency_table: OptionalText = Field(default=None, alias="IDEMPOTENCY_TABLE")


class SecurityGroupsSettings(
    ManagedSettings,
    PolicySettings,
    BusSettings,
    DryRunSettings,
    DecisionLogSettings,
    ConsumerRoleSettings,
    ApprovalTableSettings,
):
    """SecurityGroupsFunction: consumer-role.yaml's write role (RoleName-write), for ingress
    changes only (reads go through the read role), and the table of the rules it created, per
    endpoint and group (without it, rules it adds could never be told from others' and removed,
    so it adds none)."""

    consumer_write_role_name: OptionalText = Field(default=None, alias="CONSUMER_WRITE_ROLE_NAME")
    security_group_rule_table: OptionalText = Field(default=None, alias="SECURITY_GROUP_RULE_TABLE")

    @property
    def consumer_write_role(self) -> str | None:
        """The write role's name: CONSUMER_WRITE_ROLE_NAME, else consumer-role.yaml's
        `RoleName-write` beside the read role."""
        if self.consumer_write_role_name:
            return self.consumer_write_role_name
        return f"{self.consumer_role_name}-write" if self.consumer_role_name else None


class NotifySettings(
    ManagedSettings, PolicySettings, BusSettings, OrganizationsSettings, ApprovalTableSettings
):
    """NotifyFunction: the roles whose accept/reject calls are the acceptor's own (manual-
    override alerts skip them; empty means every call alerts), the default topic, and how long
    webhook URLs are cached."""

    idempotency_table: OptionalText = Field(default=None, alias="IDEMPOTENCY_TABLE")
    notification_topic_arn: OptionalText = Field(default=None, alias="NOTIFICATION_TOPIC_ARN")
    acceptor_role_arns: TextList = Field(default=(), alias="ACCEPTOR_ROLE_ARNS")
    secret_cache_seconds: int = Field(default=300, ge=0, alias="SECRET_CACHE_SECONDS")
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, alias="WEBHOOK_TIMEOUT_SECONDS"
    )
    # A console accept of a held connection is recorded as an approval: the last decision is
    # read from the decision log (docs/operations.md, "Approving a held request").
    decision_table: OptionalText = Field(default=None, alias="DECISION_TABLE")


class ApprovalSettings(PolicySettings, BusSettings, ApprovalTableSettings):
    """ApprovalFunction and SlackInteractionFunction: they record a person's decision (the
    approval table), read the last decision (the decision table) and ask Decide (the bus)."""

    decision_table: OptionalText = Field(default=None, alias="DECISION_TABLE")


class SlackInteractionSettings(ApprovalSettings):
    """SlackInteractionFunction: the same needs as ApprovalFunction (the signing secrets are
    named in the policy's channels)."""


# The model of each function of template.yaml (tests/template checks the environments).
BY_FUNCTION: dict[str, type[FunctionSettings]] = {
    "IngestFunction": IngestSettings,
    "ReconcileFunction": ReconcileSettings,
    "DecideFunction": DecideSettings,
    "SecurityGroupsFunction": SecurityGroupsSettings,
    "NotifyFunction": NotifySettings,
    "ApprovalFunction": ApprovalSettings,
    "SlackInteractionFunction": SlackInteractionSettings,
}
