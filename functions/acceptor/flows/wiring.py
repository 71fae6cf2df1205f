"""Adapters built from the settings and the clients, once per invocation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

from acceptor.aws.approvals import ApprovalStore
from acceptor.aws.bus import Bus
from acceptor.aws.clients import AwsClients
from acceptor.aws.consumer import ConsumerReader
from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.idempotency import Guard, MemoryGuard, PowertoolsGuard
from acceptor.aws.organizations import OrganizationsReader
from acceptor.aws.signing_secrets import SigningSecrets
from acceptor.flows.approval import ApprovalDeps
from acceptor.flows.decide import DecideDeps
from acceptor.flows.telemetry import ERRORS, count, logger
from acceptor.policy.errors import PolicyError
from acceptor.policy.loader import cached_policy
from acceptor.policy.policy_set import PolicySet
from acceptor.settings import Settings


def policy(settings: Settings) -> PolicySet:
    """The bundled policy, loaded once per execution environment. An invalid policy decides
    nothing: it is logged with every problem, counted as an error, and raised."""
    try:
        return cached_policy(settings.policy_path)
    except PolicyError as err:
        logger.error(
            "invalid policy: nothing is decided",
            extra={"policy_path": settings.policy_path, "problems": str(err)},
        )
        count(ERRORS)
        raise


def utc_now() -> datetime:
    return datetime.now(UTC)


def provider_ec2(clients: AwsClients) -> ProviderEc2:
    return ProviderEc2(clients.ec2(), clients.region)


def bus(settings: Settings, clients: AwsClients) -> Bus:
    return Bus(clients.events(), settings.event_bus_name)


@functools.cache
def _memory_guard() -> MemoryGuard:
    # Lives as long as the execution environment, like Powertools' local cache would.
    logger.warning("IDEMPOTENCY_TABLE is not set: duplicates are caught only within this process")
    return MemoryGuard()


def decide_deps(
    settings: Settings,
    clients: AwsClients,
    remaining_ms: Callable[[], int | None],
    clock: Callable[[], datetime] | None = None,
) -> DecideDeps:
    guard: Guard = (
        PowertoolsGuard(clients.dynamodb(), settings.idempotency_table)
        if settings.idempotency_table
        else _memory_guard()
    )
    log = (
        DecisionLog(clients.dynamodb(), settings.decision_table)
        if settings.decision_table
        else None
    )
    organizations = OrganizationsReader(
        clients if settings.organizations_access else None, settings.organizations_role_arn
    )
    return DecideDeps(
        ec2=provider_ec2(clients),
        consumers=ConsumerReader(
            clients, settings.consumer_role_name, settings.consumer_external_id
        ),
        organizations=organizations,
        bus=bus(settings, clients),
        guard=guard,
        log=log,
        clock=clock or utc_now,
        managed=frozenset(settings.managed_services),
        approvals=approvals(settings, clients),
        remaining_ms=remaining_ms,
    )


def approvals(settings: Settings, clients: AwsClients) -> ApprovalStore | None:
    if not settings.approval_table:
        return None
    return ApprovalStore(clients.dynamodb(), settings.approval_table)


def approval_deps(
    settings: Settings, clients: AwsClients, clock: Callable[[], datetime] | None = None
) -> ApprovalDeps:
    store = approvals(settings, clients)
    if store is None:
        raise RuntimeError("APPROVAL_TABLE is not set: approvals cannot be recorded")
    log = (
        DecisionLog(clients.dynamodb(), settings.decision_table)
        if settings.decision_table
        else None
    )
    return ApprovalDeps(
        ec2=provider_ec2(clients),
        approvals=store,
        bus=bus(settings, clients),
        log=log,
        clock=clock or utc_now,
    )


def signing_secrets(clients: AwsClients) -> SigningSecrets:
    return SigningSecrets(clients)
