"""Adapters built from the settings and the clients, once per invocation.

Ingest, Reconcile and Decide share this module, so what only one of them uses is imported
where it is built, on first use: Ingest's cold start does not pay for Decide's flow, the
idempotency utility or the policy loader (docs/architecture.md, "Cold start").
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from acceptor.aws.bus import Bus
from acceptor.aws.clients import AwsClients
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.managed_services import EndpointServices
from acceptor.flows.telemetry import ERRORS, count, logger
from acceptor.settings import BusSettings, DecideSettings, ManagedSettings, PolicySettings

if TYPE_CHECKING:
    from acceptor.aws.idempotency import Guard, MemoryGuard
    from acceptor.flows.decide import DecideDeps
    from acceptor.policy.policy_set import PolicySet


def policy(settings: PolicySettings) -> PolicySet:
    """The bundled policy, loaded once per execution environment. An invalid policy decides
    nothing: it is logged with every problem, counted as an error, and raised."""
    from acceptor.policy.errors import PolicyError
    from acceptor.policy.loader import cached_policy

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


def bus(settings: BusSettings, clients: AwsClients) -> Bus:
    return Bus(clients.events(), settings.event_bus_name)


def endpoint_services(clients: AwsClients) -> EndpointServices:
    return EndpointServices(clients.ec2())


# The managed set, scanned at most once per MANAGED_TTL_SECONDS per execution environment (a
# burst of batches costs one scan; a service untagged is left within that time). A service not
# in the cached set that a batch asks about is looked up again at once: a service just tagged is
# decided by the sweep that found it, not ignored until the cache expires.
MANAGED_TTL_SECONDS = 60.0
_managed_cache: dict[tuple[int, str, tuple[str, ...]], tuple[float, frozenset[str]]] = {}
_managed_lock = threading.Lock()


def managed_services(
    settings: ManagedSettings,
    clients: AwsClients,
    requested: Collection[str] = (),
    monotonic: Callable[[], float] = time.monotonic,
) -> frozenset[str]:
    """The managed services: tagged privatelink-acceptor:managed=true, narrowed by the
    MANAGED_SERVICE_IDS filter. A failed scan raises: nothing is decided on a guess."""
    # Per set of clients (one per execution environment in Lambda; one per stack in tests).
    key = (id(clients), clients.region, settings.managed_services)
    with _managed_lock:
        cached = _managed_cache.get(key)
    if cached is not None and monotonic() < cached[0] and set(requested) <= cached[1]:
        return cached[1]
    from acceptor.flows.managed import scan

    managed = scan(endpoint_services(clients), settings.managed_services).managed
    with _managed_lock:
        _managed_cache[key] = (monotonic() + MANAGED_TTL_SECONDS, managed)
    return managed


def reset_managed_cache() -> None:
    """For tests and the local replay: the next call scans again."""
    with _managed_lock:
        _managed_cache.clear()


@functools.cache
def _memory_guard() -> MemoryGuard:
    from acceptor.aws.idempotency import MemoryGuard

    # Lives as long as the execution environment, like Powertools' local cache would.
    logger.warning("IDEMPOTENCY_TABLE is not set: duplicates are caught only within this process")
    return MemoryGuard()


def decide_deps(
    settings: DecideSettings,
    clients: AwsClients,
    remaining_ms: Callable[[], int | None],
    clock: Callable[[], datetime] | None = None,
    requested: Collection[str] = (),
) -> DecideDeps:
    """`requested`: the services the batch names (a hint: the managed set is re-scanned when
    it lacks one; Decide still screens every request against the scanned set)."""
    from acceptor.aws.consumer import ConsumerReader
    from acceptor.aws.decision_log import DecisionLog
    from acceptor.aws.idempotency import PowertoolsGuard
    from acceptor.aws.organizations import OrganizationsReader
    from acceptor.flows.decide import DecideDeps

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
        managed=managed_services(settings, clients, requested),
        remaining_ms=remaining_ms,
    )
