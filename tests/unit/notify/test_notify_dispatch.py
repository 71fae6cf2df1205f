"""From an event to deliveries: which channels, one failure not stopping the others, and the
sender table (acceptor.notify.channels and acceptor.notify.dispatch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from notify_samples import (
    DECIDE_ROLE,
    OTHER_SERVICE,
    SERVICE,
    acceptor_identity,
    cloudtrail,
    decided,
    envelope,
    orders_policy,
    policy,
    state_changed,
)

from acceptor.notify import channels
from acceptor.notify.dispatch import (
    Delivery,
    Inputs,
    Plan,
    Senders,
    deliver_all,
    plan,
)
from acceptor.notify.errors import (
    ChannelMisconfigured,
    DeliveryFailed,
    UnsupportedEvent,
    WebhookFailed,
)
from acceptor.notify.events import Envelope
from acceptor.notify.render import JsonPayload, TextPayload
from acceptor.policy.model import SlackChannel, SnsChannel, WebhookChannel
from acceptor.policy.policy_set import PolicySet

DECIDED = "Endpoint Connection Decided"
STATE_CHANGED = "Endpoint Connection State Changed"
CLOUDTRAIL = "AWS API Call via CloudTrail"


def inputs(policy: PolicySet | None = None, names: Mapping[str, str] | None = None) -> Inputs:
    loaded = policy or orders_policy()
    return Inputs(
        policy=lambda: loaded,
        account_name=lambda account: (names or {}).get(account),
        is_managed={SERVICE}.__contains__,
        acceptor_role_arns=(DECIDE_ROLE,),
    )


def planned(event: dict[str, Any], policy: PolicySet | None = None) -> Plan:
    return plan(Envelope.model_validate(event), inputs(policy))


def names_of(result: Plan) -> list[str]:
    return [target.name for target in result.targets]


def test_decision_goes_to_the_channels_the_event_names() -> None:
    result = planned(envelope(DECIDED, decided()))

    assert names_of(result) == ["ops", "payments-team"]
    assert result.message is not None
    assert result.message.kind == "decision"


def test_decision_channel_unknown_to_the_policy_is_kept_without_a_definition() -> None:
    result = planned(envelope(DECIDED, decided(notify=["ops", "gone"])))

    assert [(t.name, t.channel is None) for t in result.targets] == [
        ("ops", False),
        ("gone", True),
    ]


def test_repeated_channel_names_are_notified_once() -> None:
    result = planned(envelope(DECIDED, decided(notify=["ops", "ops"])))

    assert names_of(result) == ["ops"]


def test_state_change_goes_to_file_level_channels_of_governing_files() -> None:
    result = planned(envelope(STATE_CHANGED, state_changed()))

    # orders.yaml governs SERVICE (file-level `ops`), audit.yaml governs every service.
    assert sorted(names_of(result)) == ["audit", "ops"]


def test_state_change_of_another_service_reaches_only_catch_all_files() -> None:
    result = planned(envelope(STATE_CHANGED, state_changed(service_id=OTHER_SERVICE)))

    assert names_of(result) == ["audit"]


def test_state_change_without_service_reaches_only_catch_all_files() -> None:
    result = planned(envelope(STATE_CHANGED, state_changed(service_id=None, found=False)))

    assert names_of(result) == ["audit"]


def test_override_alert_also_goes_to_the_stack_topic() -> None:
    result = planned(envelope(CLOUDTRAIL, cloudtrail(), source="aws.ec2"))

    assert sorted(names_of(result)) == ["audit", "ops", channels.STACK_TOPIC]
    assert result.message is not None
    assert result.message.severity == "alert"


def test_override_by_the_acceptor_is_ignored_with_its_reason() -> None:
    result = planned(
        envelope(CLOUDTRAIL, cloudtrail(identity=acceptor_identity()), source="aws.ec2")
    )

    assert result.message is None
    assert result.ignored == "the call was made by the acceptor's own role"


def test_stack_topic_is_not_added_twice_when_a_file_channel_is_the_stack_topic() -> None:
    loaded = policy(
        (
            "policies/orders.yaml",
            {
                "version": 1,
                "services": [SERVICE],
                "notify": ["security"],
                "notifications": {"security": {"type": "sns"}},
            },
        )
    )

    targets = channels.for_override(SERVICE, loaded)

    assert [t.name for t in targets] == ["security"]


def test_override_on_an_unreadable_service_goes_to_the_stack_topic_only() -> None:
    targets = channels.for_override(None, orders_policy())

    assert [t.name for t in targets] == [channels.STACK_TOPIC]


def test_event_of_another_detail_type_is_refused() -> None:
    with pytest.raises(UnsupportedEvent, match="Endpoint Connection Requested"):
        planned(envelope("Endpoint Connection Requested", {"anything": 1}))


class FakeSend:
    """send_once that fails for the named channels and remembers what it delivered."""

    def __init__(self, failing: set[str], done_before: set[str] | None = None) -> None:
        self.failing = failing
        self.done_before = done_before or set()
        self.delivered: list[Delivery] = []

    def __call__(self, delivery: Delivery) -> bool:
        if delivery.target.name in self.failing:
            raise WebhookFailed("the webhook answered HTTP 500", status=500)
        if delivery.target.name in self.done_before:
            return False
        self.delivered.append(delivery)
        return True


def test_one_failed_channel_does_not_stop_the_others_but_fails_the_invocation() -> None:
    result = planned(envelope(STATE_CHANGED, state_changed()))
    assert result.message is not None
    send = FakeSend(failing={"audit"})

    with pytest.raises(DeliveryFailed) as raised:
        deliver_all(result.message, result.targets, send)

    assert [d.target.name for d in send.delivered] == ["ops"]
    assert raised.value.failures == (("audit", "the webhook answered HTTP 500"),)
    assert raised.value.sent == ("ops",)


def test_channel_unknown_to_the_policy_fails_after_the_others_are_sent() -> None:
    result = planned(envelope(DECIDED, decided(notify=["gone", "ops"])))
    assert result.message is not None
    send = FakeSend(failing=set())

    with pytest.raises(DeliveryFailed, match="'gone' is not defined"):
        deliver_all(result.message, result.targets, send)

    assert [d.target.name for d in send.delivered] == ["ops"]


def test_deliveries_already_made_are_reported_as_such() -> None:
    result = planned(envelope(DECIDED, decided()))
    assert result.message is not None

    report = deliver_all(result.message, result.targets, FakeSend(set(), done_before={"ops"}))

    assert report.by_status("already-sent") == ("ops",)
    assert report.by_status("sent") == ("payments-team",)


def test_delivery_keys_differ_per_channel_and_render_per_type() -> None:
    result = planned(envelope(DECIDED, decided()))
    assert result.message is not None
    send = FakeSend(set())

    deliver_all(result.message, result.targets, send)

    keys = {d.key for d in send.delivered}
    assert len(keys) == 2
    assert all(key.startswith(result.message.dedup_key + "#") for key in keys)
    ops, team = send.delivered
    assert isinstance(ops.rendered, JsonPayload)
    assert "blocks" in ops.rendered.body
    assert isinstance(team.rendered, JsonPayload)
    assert team.rendered.body["type"] == "message"


class FakeUrls:
    def url_for(self, channel: Any) -> str:
        return f"https://hooks.example.test/{channel.webhook_secret or channel.webhook_parameter}"


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, TextPayload]] = []

    def publish(self, topic_arn: str, payload: TextPayload) -> str:
        self.published.append((topic_arn, payload))
        return "message-id"


def senders(default_topic: str | None) -> tuple[Senders, list[tuple[str, Any]], FakePublisher]:
    posted: list[tuple[str, Any]] = []
    publisher = FakePublisher()
    built = Senders(
        urls=FakeUrls(),
        post=lambda url, body: posted.append((url, body)),
        publisher=publisher,
        default_topic_arn=default_topic,
    )
    return built, posted, publisher


def delivery(name: str, channel: Any, rendered: Any) -> Delivery:
    return Delivery(key=f"k#{name}", target=channels.Target(name, channel), rendered=rendered)


def test_webhook_channels_are_posted_to_the_url_from_their_secret() -> None:
    built, posted, _ = senders(None)
    channel = SlackChannel(type="slack", webhook_secret="privatelink-acceptor/slack-ops")

    built.send(delivery("ops", channel, JsonPayload({"text": "hi"})))

    assert posted == [("https://hooks.example.test/privatelink-acceptor/slack-ops", {"text": "hi"})]


def test_sns_channel_without_topic_uses_the_stack_topic() -> None:
    built, _, publisher = senders("arn:aws:sns:us-east-1:999988887777:people")

    built.send(delivery("security", SnsChannel(type="sns"), TextPayload("s", "b")))

    assert publisher.published[0][0] == "arn:aws:sns:us-east-1:999988887777:people"


def test_sns_channel_with_its_own_topic_uses_it() -> None:
    built, _, publisher = senders("arn:aws:sns:us-east-1:999988887777:people")
    own = "arn:aws:sns:eu-west-1:999988887777:security"

    built.send(delivery("security", SnsChannel(type="sns", topic_arn=own), TextPayload("s", "b")))

    assert publisher.published[0][0] == own


def test_sns_channel_with_no_topic_anywhere_is_misconfigured() -> None:
    built, _, _ = senders(None)

    with pytest.raises(ChannelMisconfigured, match="NOTIFICATION_TOPIC_ARN"):
        built.send(delivery("security", SnsChannel(type="sns"), TextPayload("s", "b")))


def test_payload_of_the_wrong_shape_for_the_channel_is_refused() -> None:
    built, _, _ = senders(None)
    channel = WebhookChannel(type="webhook", webhook_secret="x")

    with pytest.raises(ChannelMisconfigured):
        built.send(delivery("audit", channel, TextPayload("s", "b")))
