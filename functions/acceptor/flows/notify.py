"""NotifyFunction's flow: tell people about decisions, state changes and manual overrides.

Invoked asynchronously by two EventBridge rules: the custom bus ("Endpoint Connection Decided",
"Endpoint Connection State Changed", "Endpoint Connection Security Groups Updated") and the
default bus (CloudTrail accept/reject/permission calls). It never accepts or rejects anything;
a person's accept of a connection the policy held is recorded as their approval and handed to
Decide instead of alerting (`flows/approval.py`, `console_accepts`).
Each (message, channel) pair is delivered at most once thanks to Powertools idempotency: when
one channel fails, the others are still tried, the invocation then raises, and Lambda's retry
posts only the channels that had not succeeded; after the last retry the event goes to the
dead-letter queue (docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from acceptor.aws.told import ToldLog
from acceptor.flows.approval import ApprovalDeps, console_accepts
from acceptor.flows.telemetry import count, level, logger
from acceptor.notify.cadence import told_of
from acceptor.notify.dispatch import Delivery, Inputs, Senders, SendOnce, deliver_all, plan
from acceptor.notify.errors import AccountNameUnavailable, DeliveryDeferred, DeliveryFailed
from acceptor.notify.events import Envelope
from acceptor.override import Ignored, OverrideAlert
from acceptor.policy.policy_set import PolicySet

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# How long a delivered (message, channel) pair is remembered: well past Lambda's asynchronous
# retries (at most 6 hours), so that a redrive from the dead-letter queue within a week posts
# only what had failed.
DEDUP_SECONDS = 7 * 24 * 3600
KEY_PREFIX = "notify"

# Metric names (the namespace and service are telemetry's).
NOT_NOTIFIED = "EventsNotNotified"
MANUAL_OVERRIDES = "ManualOverrides"
FAILURES = "NotificationFailures"
SENT = "NotificationsSent"


class MissingIdempotencyTable(RuntimeError):
    """Without the table a retry would post every channel again: refuse to run."""


@dataclass(frozen=True)
class NotifyDeps:
    senders: Senders
    account_names: AccountNames
    persistence: DynamoDBPersistenceLayer
    idempotency: IdempotencyConfig
    told: ToldLog | None = None
    """What people were last told per endpoint (once per change); wiring always sets it."""
    approval: ApprovalDeps | None = None
    """For console accepts of held connections (None: APPROVAL_TABLE unset, every override
    alerts)."""


@dataclass(frozen=True)
class NotifySettings:
    """What the flow reads of the function's settings."""

    policy: Callable[[], PolicySet]
    is_managed: Callable[[str], bool]
    """Whether a service is managed: the tag scan (`wiring.managed_check`)."""
    acceptor_role_arns: tuple[str, ...]


def notify(
    event: Mapping[str, Any], context: LambdaContext, settings: NotifySettings, deps: NotifyDeps
) -> dict[str, Any]:
    envelope = Envelope.model_validate(event)
    logger.append_keys(detail_type=envelope.detail_type, event_id=envelope.id)
    planned = plan(
        envelope,
        Inputs(
            policy=settings.policy,
            account_name=account_lookup(deps.account_names),
            is_managed=settings.is_managed,
            acceptor_role_arns=settings.acceptor_role_arns,
            console=_console(settings, deps),
        ),
    )
    if planned.message is None:
        count(NOT_NOTIFIED)
        logger.info("Event needs no notification", extra={"reason": planned.ignored})
        return {"status": "ignored", "reason": planned.ignored}
    message = planned.message
    logger.append_keys(**message.log_keys)
    if message.kind == "manual-override":
        count(MANUAL_OVERRIDES)
        logger.warning("Manual override detected", extra={"summary": message.summary})
    if not planned.targets:
        count(NOT_NOTIFIED)
        logger.info("No channel is configured for this event")
        return {"status": "no-channels"}
    told = told_of(envelope)
    if told is not None and deps.told is not None and not deps.told.is_news(told):
        # Once per change (docs/notifications.md): a duplicate, a stale event, or a decision
        # and state people were already told (a hold decided again by a later sweep).
        count(NOT_NOTIFIED)
        logger.info("People were already told this", extra={"endpoint_id": told.endpoint_id})
        return {"status": "already-told"}
    deps.idempotency.register_lambda_context(context)
    try:
        report = deliver_all(message, planned.targets, send_once_through(deps))
    except DeliveryFailed as err:
        count(FAILURES, len(err.failures))
        logger.error(
            "Notification failed on some channels; the event will be retried",
            extra={"failed": dict(err.failures), "sent": list(err.sent)},
        )
        raise
    sent, repeated = report.by_status("sent"), report.by_status("already-sent")
    level(SENT, len(sent))
    logger.info("Notified", extra={"sent": list(sent), "already_sent": list(repeated)})
    return {"status": "delivered", "sent": list(sent), "already_sent": list(repeated)}


def send_once_through(deps: NotifyDeps) -> SendOnce:
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


def _console(
    settings: NotifySettings, deps: NotifyDeps
) -> Callable[[OverrideAlert], OverrideAlert | Ignored] | None:
    approval = deps.approval
    if approval is None:
        return None

    def console(alert: OverrideAlert) -> OverrideAlert | Ignored:
        return console_accepts(alert, settings.policy(), approval)

    return console


def account_lookup(names: AccountNames) -> Callable[[str], str | None]:
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
