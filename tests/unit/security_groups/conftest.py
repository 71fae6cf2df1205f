"""No network for the pure security-group tests, and in-memory adapters for `add` and `remove`."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pytest_socket import disable_socket, enable_socket

from acceptor.decision.connection import Connection
from acceptor.security_groups.marking import rule_description, rule_tags
from acceptor.security_groups.model import (
    AuthorizeResult,
    ConsumerEndpoint,
    ConsumerUnavailable,
    EndpointNotFound,
    ExistingRule,
    GroupAccessDenied,
    GroupNotFound,
    GroupRecord,
    Intent,
    LoadBalancer,
    Permission,
    RevokeResult,
)
from acceptor.security_groups.ports import Adapters


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket()
    yield
    enable_socket()


# In-memory stand-ins for the adapters of acceptor.security_groups.ports. They keep EC2's
# semantics that matter here: one rule per (protocol, port, CIDR) in a group, new rule IDs on
# every authorize, tags stored with the rule, unknown groups refused.
_ids = itertools.count(1)


class FakeEc2:
    def __init__(self) -> None:
        self.rules: dict[str, list[ExistingRule]] = {}
        self.interfaces: dict[str, list[str]] = {}
        self.endpoints: dict[str, ConsumerEndpoint] = {}
        self.vpcs: dict[str, tuple[str, ...]] = {}
        self.balancers: tuple[LoadBalancer, ...] = ()
        self.deny_writes = False
        self.writes: list[tuple[str, str]] = []
        # The provider's view of connections, by endpoint ID (DescribeVpcEndpointConnections).
        self.connections: dict[str, Connection] = {}
        self.reads: list[str] = []

    def add_group(self, group_id: str, *interfaces: str) -> None:
        self.rules.setdefault(group_id, [])
        self.interfaces[group_id] = list(interfaces)

    def add_rule(
        self, group_id: str, permission: Permission, *, description: str | None = None
    ) -> str:
        rule_id = f"sgr-{next(_ids):017x}"
        self.rules[group_id].append(
            ExistingRule(
                rule_id,
                group_id,
                False,
                "tcp",
                permission.port,
                permission.port,
                permission.cidr,
                description,
            )
        )
        return rule_id

    def ingress_rules(self, group_id: str) -> tuple[ExistingRule, ...]:
        if group_id not in self.rules:
            raise GroupNotFound(f"{group_id} does not exist", group_id=group_id)
        return tuple(self.rules[group_id])

    def interfaces_using(self, group_id: str) -> tuple[str, ...]:
        return tuple(self.interfaces.get(group_id, []))

    def authorize(
        self, group_id: str, permissions: Sequence[Permission], *, endpoint_id: str, claim: str
    ) -> AuthorizeResult:
        self.writes.append(("authorize", group_id))
        if self.deny_writes:
            raise GroupAccessDenied("UnauthorizedOperation", group_id=group_id)
        existing = self.ingress_rules(group_id)
        created: dict[Permission, str] = {}
        duplicates: list[Permission] = []
        for permission in permissions:
            if any(rule.grants(permission) for rule in existing):
                duplicates.append(permission)
                continue
            rule_id = self.add_rule(group_id, permission, description=rule_description(endpoint_id))
            last = self.rules[group_id][-1]
            self.rules[group_id][-1] = replace(last, tags=rule_tags(endpoint_id, claim))
            created[permission] = rule_id
        return AuthorizeResult(created=created, duplicates=tuple(duplicates))

    def revoke(self, group_id: str, rule_ids: Sequence[str]) -> RevokeResult:
        self.writes.append(("revoke", group_id))
        present = {rule.rule_id for rule in self.rules.get(group_id, [])}
        self.rules[group_id] = [
            r for r in self.rules.get(group_id, []) if r.rule_id not in rule_ids
        ]
        return RevokeResult(
            revoked=tuple(r for r in rule_ids if r in present),
            already_gone=tuple(r for r in rule_ids if r not in present),
        )

    def endpoint(self, endpoint_id: str) -> ConsumerEndpoint:
        if endpoint_id not in self.endpoints:
            raise EndpointNotFound(f"{endpoint_id} is not there")
        return self.endpoints[endpoint_id]

    def vpc_cidrs(self, vpc_id: str) -> tuple[str, ...]:
        return self.vpcs[vpc_id]

    def load_balancers(self, service_id: str) -> tuple[LoadBalancer, ...]:
        return self.balancers

    def connection(self, endpoint_id: str) -> Connection | None:
        self.reads.append(endpoint_id)
        return self.connections.get(endpoint_id)

    def connect(
        self,
        endpoint_id: str,
        state: str = "available",
        *,
        service_id: str = "vpce-svc-0123456789abcdef0",
        account: str = "999988887777",
    ) -> None:
        self.connections[endpoint_id] = Connection(
            service_id=service_id,
            endpoint_id=endpoint_id,
            account=account,
            region="eu-west-1",
            state=state,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )


class FakeHolders:
    """The holder items of the rule table: which endpoints each rule of ours serves."""

    def __init__(self) -> None:
        self.holding: dict[tuple[str, str], frozenset[str]] = {}

    def holders(self, group_id: str, rule_id: str) -> frozenset[str]:
        return self.holding.get((group_id, rule_id), frozenset())

    def hold(self, group_id: str, rule_id: str, endpoint_id: str, *, created: bool) -> bool:
        key = (group_id, rule_id)
        if not created and key not in self.holding:
            return False
        self.holding[key] = self.holding.get(key, frozenset()) | {endpoint_id}
        return True

    def release(self, group_id: str, rule_id: str, endpoint_id: str) -> None:
        key = (group_id, rule_id)
        left = self.holding.get(key, frozenset()) - {endpoint_id}
        if left:
            self.holding[key] = left
        else:
            self.holding.pop(key, None)

    def drop_rule(self, group_id: str, rule_id: str) -> None:
        self.holding.pop((group_id, rule_id), None)


class FakeRecords(FakeHolders):
    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], GroupRecord] = {}
        self.open: dict[tuple[str, str], Intent] = {}
        self.begun: list[Intent] = []
        self.stamps = itertools.count(1)

    def record_created(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        ids = set(rule_ids)
        for rule_id in ids:
            self.hold(record.group_id, rule_id, record.endpoint_id, created=True)
        self.remember(record, ids)

    def join(self, record: GroupRecord, rule_id: str) -> bool:
        if not self.hold(record.group_id, rule_id, record.endpoint_id, created=False):
            return False
        self.remember(record, [rule_id])
        return True

    def begin(self, intent: Intent) -> Intent:
        stored = replace(intent, started_at=f"t{next(self.stamps)}")
        self.open[(intent.endpoint_id, intent.group_id)] = stored
        self.begun.append(stored)
        return stored

    def intents(self, endpoint_id: str) -> tuple[Intent, ...]:
        return tuple(i for (e, _), i in sorted(self.open.items()) if e == endpoint_id)

    def end(self, intent: Intent) -> None:
        key = (intent.endpoint_id, intent.group_id)
        if key in self.open and self.open[key].started_at == intent.started_at:
            del self.open[key]

    def load(self, endpoint_id: str) -> tuple[GroupRecord, ...]:
        return tuple(r for (e, _), r in sorted(self.items.items()) if e == endpoint_id)

    def claim(self, record: GroupRecord) -> GroupRecord:
        return self.items.setdefault((record.endpoint_id, record.group_id), record)

    def remember(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        stored = self.claim(record)
        self.items[(record.endpoint_id, record.group_id)] = replace(
            stored, rule_ids=stored.rule_ids | set(rule_ids)
        )

    def forget(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        key = (record.endpoint_id, record.group_id)
        stored = self.items.get(key)
        if stored is None:
            return
        left = stored.rule_ids - set(rule_ids)
        if left or stored.claim != record.claim:
            self.items[key] = replace(stored, rule_ids=left)
        else:
            del self.items[key]


class World:
    """A provider and one consumer account, as the adapters see them."""

    def __init__(self) -> None:
        self.provider = FakeEc2()
        self.consumer = FakeEc2()
        self.records = FakeRecords()
        self.consumer_error: str | None = None
        self.claims = (f"claim-{n}" for n in itertools.count(1))

    def consumer_access(self, account: str, region: str) -> FakeEc2:
        if self.consumer_error is not None:
            raise ConsumerUnavailable(self.consumer_error)
        return self.consumer

    def adapters(self) -> Adapters:
        return Adapters(
            provider=self.provider,
            consumer=self.consumer_access,
            records=self.records,
            new_claim=lambda: next(self.claims),
        )


@pytest.fixture
def world() -> World:
    return World()
