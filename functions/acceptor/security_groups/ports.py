"""What the security-group sequence needs from the outside, as protocols: the adapters of
`acceptor.aws.security_groups` implement them, and so do the in-memory fakes of the unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from acceptor.decision.connection import Connection
from acceptor.policy.model import SecurityGroups
from acceptor.security_groups.model import (
    AuthorizeResult,
    ConsumerEndpoint,
    ExistingRule,
    GroupRecord,
    Intent,
    LoadBalancer,
    Permission,
    RevokeResult,
)


class GroupApi(Protocol):
    def ingress_rules(self, group_id: str) -> tuple[ExistingRule, ...]: ...

    def interfaces_using(self, group_id: str) -> tuple[str, ...]: ...

    def authorize(
        self, group_id: str, permissions: Sequence[Permission], *, endpoint_id: str, claim: str
    ) -> AuthorizeResult: ...

    def revoke(self, group_id: str, rule_ids: Sequence[str]) -> RevokeResult: ...


class ConsumerApi(GroupApi, Protocol):
    def endpoint(self, endpoint_id: str) -> ConsumerEndpoint: ...

    def vpc_cidrs(self, vpc_id: str) -> tuple[str, ...]: ...


class ProviderApi(GroupApi, Protocol):
    def load_balancers(self, service_id: str) -> tuple[LoadBalancer, ...]: ...

    def connection(self, endpoint_id: str) -> Connection | None:
        """The connection as DescribeVpcEndpointConnections shows it now, looked up by endpoint
        ID alone (never by a service ID an event named); None when it is not listed."""
        ...


class RecordStore(Protocol):
    def load(self, endpoint_id: str) -> tuple[GroupRecord, ...]: ...

    def claim(self, record: GroupRecord) -> GroupRecord:
        """Store `record` unless one exists for its endpoint and group; return the stored one."""
        ...

    def remember(self, record: GroupRecord, rule_ids: Iterable[str]) -> None: ...

    def forget(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        """Drop these IDs; drop the record once it holds none (unless its claim changed)."""
        ...

    def holders(self, group_id: str, rule_id: str) -> frozenset[str]:
        """The endpoints a rule of ours serves; empty for a rule recorded before holders were
        kept (its record's endpoint is then its only holder) or not ours at all."""
        ...

    def hold(self, group_id: str, rule_id: str, endpoint_id: str, *, created: bool) -> bool:
        """Add a holder: to a rule just `created`, or (False if not) to a rule of ours that
        still has holders."""
        ...

    def release(self, group_id: str, rule_id: str, endpoint_id: str) -> None: ...

    def drop_rule(self, group_id: str, rule_id: str) -> None:
        """The rule was revoked: forget its holders."""
        ...

    def record_created(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        """Rules our call created: each held by the record's endpoint, and in its record."""
        ...

    def join(self, record: GroupRecord, rule_id: str) -> bool:
        """Hold a rule of ours that another connection created first, and record it; False
        (nothing written) when it has no holders left (docs/security-groups.md, "Shared
        rules")."""
        ...

    # Intents (acceptor.security_groups.intents): one per endpoint and group at a time.

    def begin(self, intent: Intent) -> Intent:
        """Write the intent (replacing an older one of the group); return it as stored."""
        ...

    def intents(self, endpoint_id: str) -> tuple[Intent, ...]:
        """The endpoint's open intents."""
        ...

    def end(self, intent: Intent) -> None:
        """Delete this intent (a newer one of the group stays)."""
        ...


ConsumerAccess = Callable[[str, str], ConsumerApi]
"""(consumer account, region) -> its EC2 through the consumer role; raises ConsumerUnavailable."""


@dataclass(frozen=True)
class Adapters:
    provider: ProviderApi
    consumer: ConsumerAccess
    records: RecordStore
    new_claim: Callable[[], str]


@dataclass(frozen=True)
class Request:
    endpoint_id: str
    service_id: str | None
    account: str | None
    """The consumer account, as the re-read shows it (None when the connection is gone)."""
    region: str | None
    """The consumer region (the endpoint's; cross-region PrivateLink makes it differ)."""
    provider_account: str
    provider_region: str
    trigger: str
    dry_run: bool
    spec: SecurityGroups | None = None
    """The accept rule's `security_groups`, from the bundled policy (never from the event)."""
