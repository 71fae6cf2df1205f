"""Settings of every function: a typed model read once when a handler is entered.

The names are the environment variables that template.yaml sets; docs/operations.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

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


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # The optional filter: the managed services are those tagged privatelink-acceptor:managed=
    # true, narrowed to these when any are named (empty: no narrowing). acceptor/managed.py.
    managed_services: Annotated[tuple[str, ...], BeforeValidator(_split_list)] = Field(
        default=(), alias="MANAGED_SERVICE_IDS"
    )
    # ReconcileFunction: the stack's topic that every managed service's connection notification
    # points at, and the prefix of the topics the stack had before (its own, to be repaired).
    connection_topic_arn: OptionalText = Field(default=None, alias="CONNECTION_TOPIC_ARN")
    connection_topic_prefix: str = Field(default="", alias="CONNECTION_TOPIC_PREFIX")
    dry_run: Flag = Field(default=False, alias="DRY_RUN")
    policy_path: str = Field(default="policies", alias="POLICY_PATH")
    event_bus_name: str = Field(default="privatelink-acceptor", alias="EVENT_BUS_NAME")
    decision_table: OptionalText = Field(default=None, alias="DECISION_TABLE")
    idempotency_table: OptionalText = Field(default=None, alias="IDEMPOTENCY_TABLE")
    decision_ttl_days: int = Field(default=400, ge=1, alias="DECISION_TTL_DAYS")
    consumer_role_name: OptionalText = Field(default=None, alias="CONSUMER_ROLE_NAME")
    # SecurityGroupsFunction: consumer-role.yaml's write role (RoleName-write), for ingress
    # changes only; reads go through the read role above.
    consumer_write_role_name: OptionalText = Field(default=None, alias="CONSUMER_WRITE_ROLE_NAME")
    consumer_external_id: OptionalText = Field(default=None, alias="CONSUMER_ROLE_EXTERNAL_ID")
    organizations_access: Flag = Field(default=False, alias="ORGANIZATIONS_ACCESS")
    organizations_role_arn: OptionalText = Field(default=None, alias="ORGANIZATIONS_ROLE_ARN")
    notification_topic_arn: OptionalText = Field(default=None, alias="NOTIFICATION_TOPIC_ARN")
    # SecurityGroupsFunction: the table of the rules it created, per endpoint and group (without
    # it, rules it adds could never be told from others' and removed, so it adds none).
    security_group_rule_table: OptionalText = Field(default=None, alias="SECURITY_GROUP_RULE_TABLE")
    # NotifyFunction: the roles whose accept/reject calls are the acceptor's own (manual-override
    # alerts skip them; empty means every call alerts), and how long webhook URLs are cached.
    acceptor_role_arns: Annotated[tuple[str, ...], BeforeValidator(_split_list)] = Field(
        default=(), alias="ACCEPTOR_ROLE_ARNS"
    )
    # ApprovalFunction writes approval records here; Decide reads them (origin `approval`).
    approval_table: OptionalText = Field(default=None, alias="APPROVAL_TABLE")
    secret_cache_seconds: int = Field(default=300, ge=0, alias="SECRET_CACHE_SECONDS")
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, alias="WEBHOOK_TIMEOUT_SECONDS"
    )

    @property
    def consumer_write_role(self) -> str | None:
        """The write role's name: CONSUMER_WRITE_ROLE_NAME, else consumer-role.yaml's
        `RoleName-write` beside the read role."""
        if self.consumer_write_role_name:
            return self.consumer_write_role_name
        return f"{self.consumer_role_name}-write" if self.consumer_role_name else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return cls.model_validate(dict(environ))
