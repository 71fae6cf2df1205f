"""NotifyFunction: tell people about decisions, state changes and manual overrides.

Invoked asynchronously by two EventBridge rules: the custom bus ("Endpoint Connection Decided",
"Endpoint Connection State Changed", "Endpoint Connection Security Groups Updated") and the
default bus (CloudTrail accept/reject/permission calls). It never accepts or rejects anything.
Each (message, channel) pair is delivered at most once thanks to Powertools idempotency: when
one channel fails, the others are still tried, the invocation then raises, and Lambda's retry
posts only the channels that had not succeeded; after the last retry the event goes to the
dead-letter queue.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    BaseError as IdempotencyError,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)

from acceptor.aws.account_names import AccountNames
from acceptor.aws.clients import AwsClients, default_clients
from acceptor.aws.secrets import WebhookUrls
from acceptor.aws.sns_publish import SnsPublisher
from acceptor.aws.told import ToldLog
from acceptor.aws.webhook import WebhookPoster
from acceptor.flows.telemetry import logger, metrics, tracer
from acceptor.notify.cadence import told_of
from acceptor.notify.dispatch import Delivery, Inputs, Senders, SendOnce, deliver_all, plan
from acceptor.notify.errors import AccountNameUnavailable, DeliveryDeferred, DeliveryFailed
from acceptor.notify.events import Envelope
from acceptor.policy.loader import cached_policy
from acceptor.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_organizations import OrganizationsClient

# How long a delivered (message, channel) pair is remembered: well past Lambda's asynchronous
# retries (at most 6 hours), so that a redrive from the dead-letter queue within a week posts
# only what had failed.
DEDUP_SECONDS = 7 * 24 * 3600
KEY_PREFIX = "notify"
# botocore logs every response body at DEBUG; here those bodies include GetSecretValue and
# GetParameter answers, i.e. webhook URLs. This logger stays at INFO in this function whatever
# the application log level (Lambda's log-level control sets the root logger's).
BODY_LOGGER = "botocore.parsers"
SESSION_NAME = "privatelink-acceptor-notify"


class MissingIdempotencyTable(RuntimeError):
    """Without the table a retry would post every channel again: refuse to run."""


@dataclass(frozen=True)
class Dependencies:
    senders: Senders
    account_names: AccountNames
    persistence: DynamoDBPersistenceLayer
    idempotency: IdempotencyConfig
    told: ToldLog


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environ(os.environ)
    return notify(event, context, settings, dependencies(settings, default_clients()))


def notify(
    event: dict[str, Any], context: LambdaContext, settings: Settings, deps: Dependencies
) -> dict[str, Any]:
    envelope = Envelope.model_validate(event)
    logger.append_keys(detail_type=envelope.detail_type, event_id=envelope.id)
    planned = plan(
        envelope,
        Inputs(
            policy=lambda: cached_policy(settings.policy_path),
            account_name=_account_name(deps.account_names),
            managed_services=settings.managed_services,
            acceptor_role_arns=settings.acceptor_role_arns,
        ),
    )
    if planned.message is None:
        metrics.add_metric(name="EventsNotNotified", unit=MetricUnit.Count, value=1)
        logger.info("Event needs no notification", extra={"reason": planned.ignored})
        return {"status": "ignored", "reason": planned.ignored}
    message = planned.message
    logger.append_keys(**message.log_keys)
    if message.kind == "manual-override":
        metrics.add_metric(name="ManualOverrides", unit=MetricUnit.Count, value=1)
        logger.warning("Manual override detected", extra={"summary": message.summary})
    if not planned.targets:
        metrics.add_metric(name="EventsNotNotified", unit=MetricUnit.Count, value=1)
        logger.info("No channel is configured for this event")
        return {"status": "no-channels"}
    told = told_of(envelope)
    if told is not None and not deps.told.is_news(told):
        # Once per change (docs/notifications.md): a duplicate, a stale event, or a decision
        # and state people were already told (a hold decided again by a later sweep).
        metrics.add_metric(name="EventsNotNotified", unit=MetricUnit.Count, value=1)
        logger.info("People were already told this", extra={"endpoint_id": told.endpoint_id})
        return {"status": "already-told"}
    deps.idempotency.register_lambda_context(context)
    try:
        report = deliver_all(message, planned.targets, _send_once(deps))
    except DeliveryFailed as err:
        metrics.add_metric(
            name="NotificationFailures", unit=MetricUnit.Count, value=len(err.failures)
        )
        logger.error(
            "Notification failed on some channels; the event will be retried",
            extra={"failed": dict(err.failures), "sent": list(err.sent)},
        )
        raise
    sent, repeated = report.by_status("sent"), report.by_status("already-sent")
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=len(sent))
    logger.info("Notified", extra={"sent": list(sent), "already_sent": list(repeated)})
    return {"status": "delivered", "sent": list(sent), "already_sent": list(repeated)}


@lru_cache(maxsize=4)
def dependencies(settings: Settings, clients: AwsClients) -> Dependencies:
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
    return Dependencies(
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
    )


def _send_once(deps: Dependencies) -> SendOnce:
    def send_once(delivery: Delivery) -> bool:
        sent_now = False

        def deliver(*, record: dict[str, str]) -> dict[str, str]:
            nonlocal sent_now
            deps.senders.send(delivery)
            sent_now = True
            return {"channel": delivery.target.name}

        once = idempotent_function(
            deliver,
            data_keyword_argument="record",
            persistence_store=deps.persistence,
            config=deps.idempotency,
            key_prefix=KEY_PREFIX,
        )
        try:
            once(record={"key": delivery.key})
        except IdempotencyAlreadyInProgressError as err:
            raise DeliveryDeferred("another invocation is delivering this right now") from err
        except IdempotencyError as err:
            raise DeliveryDeferred(f"the de-duplication table failed: {err}") from err
        return sent_now

    return send_once


def _account_name(names: AccountNames) -> Callable[[str], str | None]:
    def lookup(account: str) -> str | None:
        try:
            return names.name_of(account)
        except AccountNameUnavailable as err:
            # The name only decorates the message (the ID is always there): notify without it.
            logger.warning(
                "Account name unavailable", extra={"account": account, "error": str(err)}
            )
            return None

    return lookup


def _organizations(
    settings: Settings, clients: AwsClients
) -> Callable[[], OrganizationsClient] | None:
    if not settings.organizations_access:
        return None
    role_arn = settings.organizations_role_arn
    if role_arn is None:
        return clients.organizations
    # Assumed afresh on each lookup that misses the name cache: the session lasts 15 minutes,
    # the execution environment much longer.
    return lambda: clients.assume_role(role_arn, session_name=SESSION_NAME).organizations()
