"""From a bus event to delivered notifications, through injected ports.

`plan` reads the event (a table: detail-type → builder) into one message and its targets.
`deliver_all` renders the message for every target and hands each delivery to `send_once`,
which the handler wraps in Powertools idempotency: a channel that succeeded is not posted
again when the invocation is retried. Every channel is tried; failures are collected and
raised together at the end, so that Lambda retries and, in the end, dead-letters the event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from acceptor.contract import DecidedDetail, StateChangedDetail
from acceptor.notify import channels
from acceptor.notify.channels import Target
from acceptor.notify.errors import (
    ChannelMisconfigured,
    DeliveryFailed,
    NotificationError,
    UnsupportedEvent,
)
from acceptor.notify.events import (
    CLOUDTRAIL_CALL,
    DECIDED,
    SECURITY_GROUPS_UPDATED,
    STATE_CHANGED,
    Envelope,
    SecurityGroupsUpdated,
)
from acceptor.notify.groups import security_groups_message
from acceptor.notify.message import (
    Message,
    decision_message,
    override_message,
    state_change_message,
)
from acceptor.notify.render import JsonPayload, Rendered, TextPayload, render
from acceptor.override import Ignored, OverrideAlert, assess
from acceptor.policy.model import SlackChannel, SnsChannel, TeamsChannel, WebhookChannel
from acceptor.policy.policy_set import PolicySet

WebhookChannels = SlackChannel | TeamsChannel | WebhookChannel


@dataclass(frozen=True)
class Inputs:
    """What building a message needs besides the event; callables so nothing is read unused."""

    policy: Callable[[], PolicySet]
    account_name: Callable[[str], str | None]
    is_managed: Callable[[str], bool] = lambda service_id: True
    """Whether a service is managed (the tag scan); True when it cannot tell."""
    acceptor_role_arns: tuple[str, ...] = ()
    console: Callable[[OverrideAlert], OverrideAlert | Ignored] | None = None
    """Turns a person's accept of held connections into approvals (`flows/approval.py`,
    `console_accepts`): what it returns is what is still an override; None: every override
    alerts."""


@dataclass(frozen=True)
class Plan:
    message: Message | None
    targets: tuple[Target, ...] = ()
    ignored: str | None = None


def plan(event: Envelope, inputs: Inputs) -> Plan:
    try:
        builder = _BUILDERS[event.detail_type]
    except KeyError:
        raise UnsupportedEvent(
            f"NotifyFunction has no rule for detail-type {event.detail_type!r} "
            f"(source {event.source!r}); check the event patterns that target it"
        ) from None
    return builder(event, inputs)


def _decided(event: Envelope, inputs: Inputs) -> Plan:
    decided = DecidedDetail.model_validate(event.detail)
    message = decision_message(
        decided,
        provider_region=event.region,
        account_name=inputs.account_name(decided.account),
        detail=event.detail,
    )
    return Plan(message, channels.for_decision(decided.notify, inputs.policy()))


def _state_changed(event: Envelope, inputs: Inputs) -> Plan:
    changed = StateChangedDetail.model_validate(event.detail)
    message = state_change_message(
        changed,
        provider_region=event.region,
        account_name=inputs.account_name(changed.account) if changed.account else None,
        event_id=event.id,
        detail=event.detail,
    )
    return Plan(message, channels.for_service(changed.service_id, inputs.policy()))


def _cloudtrail_call(event: Envelope, inputs: Inputs) -> Plan:
    outcome = assess(
        event.detail,
        is_managed=inputs.is_managed,
        acceptor_role_arns=inputs.acceptor_role_arns,
    )
    if isinstance(outcome, Ignored):
        return Plan(None, ignored=outcome.reason)
    if inputs.console is not None:
        outcome = inputs.console(outcome)
        if isinstance(outcome, Ignored):
            return Plan(None, ignored=outcome.reason)
    message = override_message(
        outcome, provider_region=event.region, detail_type=event.detail_type, detail=event.detail
    )
    return Plan(message, channels.for_override(outcome.service_id, inputs.policy()))


def _security_groups_updated(event: Envelope, inputs: Inputs) -> Plan:
    updated = SecurityGroupsUpdated.model_validate(event.detail)
    if not updated.needs_attention:
        return Plan(None, ignored="the security groups were updated without warnings")
    message = security_groups_message(
        updated,
        provider_region=event.region,
        account_name=inputs.account_name(updated.account) if updated.account else None,
        event_id=event.id,
        detail=event.detail,
    )
    return Plan(message, channels.for_service(updated.service_id, inputs.policy()))


_BUILDERS: dict[str, Callable[[Envelope, Inputs], Plan]] = {
    DECIDED: _decided,
    STATE_CHANGED: _state_changed,
    SECURITY_GROUPS_UPDATED: _security_groups_updated,
    CLOUDTRAIL_CALL: _cloudtrail_call,
}


@dataclass(frozen=True)
class Delivery:
    """One message to one channel; `key` is what makes a retried delivery a duplicate."""

    key: str
    target: Target
    rendered: Rendered


# Returns True when it sent now, False when an earlier invocation already had.
SendOnce = Callable[[Delivery], bool]


@dataclass(frozen=True)
class Outcome:
    channel: str
    status: Literal["sent", "already-sent", "failed"]
    error: str | None = None


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    def by_status(self, status: str) -> tuple[str, ...]:
        return tuple(o.channel for o in self.outcomes if o.status == status)


def deliver_all(message: Message, targets: tuple[Target, ...], send_once: SendOnce) -> Report:
    outcomes: list[Outcome] = []
    for target in targets:
        try:
            delivery = _delivery(message, target)
            fresh = send_once(delivery)
        except NotificationError as err:
            outcomes.append(Outcome(target.name, "failed", str(err)))
            continue
        outcomes.append(Outcome(target.name, "sent" if fresh else "already-sent"))
    report = Report(tuple(outcomes))
    failures = tuple((o.channel, o.error or "") for o in outcomes if o.status == "failed")
    if failures:
        done = report.by_status("sent") + report.by_status("already-sent")
        raise DeliveryFailed(failures, sent=done)
    return report


def _delivery(message: Message, target: Target) -> Delivery:
    if target.channel is None:
        raise ChannelMisconfigured(
            f"channel {target.name!r} is not defined in the loaded policy's notifications"
        )
    return Delivery(
        key=f"{message.dedup_key}#{target.name}",
        target=target,
        rendered=render(
            target.channel.type,
            message,
            interactive=getattr(target.channel, "signing_secret", None) is not None,
        ),
    )


class UrlSource(Protocol):
    def url_for(self, channel: WebhookChannels) -> str: ...


class Poster(Protocol):
    def __call__(self, url: str, body: Mapping[str, Any]) -> None: ...


class Publisher(Protocol):
    def publish(self, topic_arn: str, payload: TextPayload) -> str: ...


class Senders:
    """Sends one delivery through the adapter its channel type needs (a table, not branches)."""

    def __init__(
        self,
        *,
        urls: UrlSource,
        post: Poster,
        publisher: Publisher,
        default_topic_arn: str | None,
    ) -> None:
        self._urls = urls
        self._post = post
        self._publisher = publisher
        self._default_topic_arn = default_topic_arn
        self._by_type: dict[str, Callable[[Delivery], None]] = {
            "slack": self._post_webhook,
            "teams": self._post_webhook,
            "webhook": self._post_webhook,
            "sns": self._publish,
        }

    def send(self, delivery: Delivery) -> None:
        channel = delivery.target.channel
        if channel is None:
            raise ChannelMisconfigured(f"channel {delivery.target.name!r} is not defined")
        self._by_type[channel.type](delivery)

    def _post_webhook(self, delivery: Delivery) -> None:
        channel = delivery.target.channel
        if not isinstance(channel, SlackChannel | TeamsChannel | WebhookChannel) or not isinstance(
            delivery.rendered, JsonPayload
        ):
            raise ChannelMisconfigured(f"channel {delivery.target.name!r} is not a webhook")
        self._post(self._urls.url_for(channel), delivery.rendered.body)

    def _publish(self, delivery: Delivery) -> None:
        channel = delivery.target.channel
        if not isinstance(channel, SnsChannel) or not isinstance(delivery.rendered, TextPayload):
            raise ChannelMisconfigured(f"channel {delivery.target.name!r} is not an SNS channel")
        topic_arn = channel.topic_arn or self._default_topic_arn
        if topic_arn is None:
            raise ChannelMisconfigured(
                f"SNS channel {delivery.target.name!r} has no topic_arn and the stack's "
                "topic is not configured (NOTIFICATION_TOPIC_ARN)"
            )
        self._publisher.publish(topic_arn, delivery.rendered)
