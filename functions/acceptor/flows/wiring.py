"""Adapters built from the settings and the clients, once per invocation.

Ingest, Reconcile and Decide share this module, so what only one of them uses is imported
where it is built, on first use: Ingest's cold start does not pay for Decide's flow, the
idempotency utility or the policy loader (docs/architecture.md, "Cold start").
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)

from acceptor.aws.account_names import AccountNames
from acceptor.aws.approvals import ApprovalStore
from acceptor.aws.bus import Bus
from acceptor.aws.clients import AwsClients
from acceptor.aws.consumer import ConsumerReader
from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AwsError
from acceptor.aws.managed_services import EndpointServices
from acceptor.aws.rule_records import RuleRecordTable
from acceptor.aws.secrets import WebhookUrls
from acceptor.aws.security_groups import ProviderSecurityGroups, consumer_access
from acceptor.aws.signing_secrets import SigningSecrets
from acceptor.aws.sns_publish import SnsPublisher
from acceptor.aws.told import ToldLog
from acceptor.aws.webhook import WebhookPoster
from acceptor.flows.approval import ApprovalDeps
from acceptor.flows.managed import scan
from acceptor.flows.notify import DEDUP_SECONDS, MissingIdempotencyTable, NotifyDeps
from acceptor.flows.security_groups import Home, SecurityGroupsDeps
from acceptor.flows.telemetry import ERRORS, count, logger
from acceptor.notify.dispatch import Senders
from acceptor.security_groups.ports import Adapters
from acceptor.settings import (
    ApprovalSettings,
    ApprovalTableSettings,
    BusSettings,
    DecideSettings,
    ManagedSettings,
    NotifySettings,
    PolicySettings,
    SecurityGroupsSettings,
)

if TYPE_CHECKING:
    from acceptor.aws.idempotency import Guard, MemoryGuard
    from acceptor.flows.decide import DecideDeps
    from acceptor.flows.digest import DigestReads
    from acceptor.policy.policy_set import PolicySet

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient


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

    managed = scan(endpoint_services(clients), settings.managed_services).managed
    with _managed_lock:
        _managed_cache[key] = (monotonic() + MANAGED_TTL_SECONDS, managed)
    return managed


def managed_check(settings: ManagedSettings, clients: AwsClients) -> Callable[[str], bool]:
    """Whether a service is managed, for the manual-override alerts: the same tag scan as
    Decide's. A scan that fails answers True: a change that cannot be placed is still alerted
    (docs/notifications.md, "Manual overrides")."""

    def is_managed(service_id: str) -> bool:
        try:
            return service_id in managed_services(settings, clients, (service_id,))
        except AwsError as err:
            logger.warning(
                "Managed services unreadable: the call is alerted",
                extra={"service_id": service_id, "error": str(err)},
            )
            return True

    return is_managed


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
        approvals=approvals(settings, clients),
        remaining_ms=remaining_ms,
    )


class MissingRuleTable(RuntimeError):
    """Without the rule table, rules SecurityGroups adds could never be told from others' and
    removed: it refuses to run."""


SECURITY_GROUPS_SESSION = "privatelink-acceptor-security-groups"


def security_groups_deps(
    settings: SecurityGroupsSettings, clients: AwsClients, function_arn: str
) -> SecurityGroupsDeps:
    """Built per invocation: consumer-role sessions last 15 minutes, environments much longer
    (the boto3 clients behind them are cached by `clients`)."""
    if settings.security_group_rule_table is None:
        raise MissingRuleTable(
            "SECURITY_GROUP_RULE_TABLE is not set: without it the rules this function adds "
            "could never be removed, so it adds none"
        )
    account, region = home_of(function_arn)
    reader = ConsumerReader(
        clients,
        settings.consumer_role_name,
        settings.consumer_external_id,
        session_name=SECURITY_GROUPS_SESSION,
    )
    return SecurityGroupsDeps(
        adapters=Adapters(
            provider=ProviderSecurityGroups(clients.ec2(), clients.client("elbv2")),
            consumer=consumer_access(
                reader,
                ConsumerReader(
                    clients,
                    settings.consumer_write_role,
                    settings.consumer_external_id,
                    session_name=SECURITY_GROUPS_SESSION,
                ),
            ),
            records=RuleRecordTable(clients.dynamodb(), settings.security_group_rule_table),
            new_claim=lambda: uuid.uuid4().hex,
        ),
        bus=bus(settings, clients),
        decision_log=None
        if settings.decision_table is None
        else DecisionLog(clients.dynamodb(), settings.decision_table),
        home=Home(account, region),
        clock=utc_now,
        managed=lambda service_id: managed_services(settings, clients, (service_id,)),
        approvals=approvals(settings, clients),
    )


def home_of(function_arn: str) -> tuple[str, str]:
    """A function's account and region, from its ARN (arn:aws:lambda:REGION:ACCOUNT:...)."""
    parts = function_arn.split(":")
    if len(parts) < 5 or not parts[3] or not parts[4]:
        raise ValueError(f"not a Lambda function ARN: {function_arn!r}")
    return parts[4], parts[3]


# botocore logs every response body at DEBUG; in NotifyFunction those bodies include
# GetSecretValue and GetParameter answers, i.e. webhook URLs. This logger stays at INFO there
# whatever the application log level (Lambda's log-level control sets the root logger's).
BODY_LOGGER = "botocore.parsers"
NOTIFY_SESSION = "privatelink-acceptor-notify"


@lru_cache(maxsize=4)
def notify_deps(settings: NotifySettings, clients: AwsClients) -> NotifyDeps:
    """Built on the first invocation of an execution environment, then reused (URL cache)."""
    if settings.idempotency_table is None:
        raise MissingIdempotencyTable(
            "IDEMPOTENCY_TABLE is not set: NotifyFunction needs it to post each channel once"
        )
    logging.getLogger(BODY_LOGGER).setLevel(logging.INFO)
    if not settings.acceptor_role_arns:
        logger.warning(
            "ACCEPTOR_ROLE_ARNS is empty: every accept/reject call, the acceptor's own included, "
            "will raise a manual-override alert"
        )
    return NotifyDeps(
        senders=Senders(
            urls=WebhookUrls(clients, ttl_seconds=settings.secret_cache_seconds),
            post=WebhookPoster(timeout_seconds=settings.webhook_timeout_seconds),
            publisher=SnsPublisher(clients),
            default_topic_arn=settings.notification_topic_arn,
        ),
        account_names=AccountNames(_organizations(settings, clients)),
        persistence=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=clients.dynamodb()
        ),
        idempotency=IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=DEDUP_SECONDS,
        ),
        told=ToldLog(clients.dynamodb(), settings.idempotency_table),
        # Console accepts of held connections become approvals only where both tables are set.
        approval=(
            approval_deps(settings, clients)
            if settings.approval_table and settings.decision_table
            else None
        ),
    )


def digest_reads(settings: NotifySettings, clients: AwsClients) -> DigestReads:
    """What NotifyFunction's daily digest re-reads (built per scheduled invocation)."""
    from acceptor.flows.digest import DigestNotConfigured, DigestReads

    if settings.decision_table is None:
        raise DigestNotConfigured(
            "DECISION_TABLE is not set: the digest cannot tell held requests from decided ones"
        )
    return DigestReads(
        ec2=provider_ec2(clients),
        log=DecisionLog(clients.dynamodb(), settings.decision_table),
        managed=lambda: managed_services(settings, clients),
        clock=utc_now,
    )


def _organizations(
    settings: NotifySettings, clients: AwsClients
) -> Callable[[], OrganizationsClient] | None:
    if not settings.organizations_access:
        return None
    role_arn = settings.organizations_role_arn
    if role_arn is None:
        return clients.organizations
    # Assumed afresh on each lookup that misses the name cache: the session lasts 15 minutes,
    # the execution environment much longer.
    return lambda: clients.assume_role(role_arn, session_name=NOTIFY_SESSION).organizations()


def approvals(settings: ApprovalTableSettings, clients: AwsClients) -> ApprovalStore | None:
    if not settings.approval_table:
        return None
    return ApprovalStore(clients.dynamodb(), settings.approval_table)


def approval_deps(
    settings: ApprovalSettings | NotifySettings,
    clients: AwsClients,
    clock: Callable[[], datetime] | None = None,
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
