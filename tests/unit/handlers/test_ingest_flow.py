"""The Ingest flow: a notification, the truth re-read, one event; unparseable → raised."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.parser.models import SnsRecordModel
from handler_fakes import FakeBus, FakeEc2, pending

from acceptor.contract import DetailType, RequestedDetail, StateChangedDetail
from acceptor.flows.ingest import ingest
from acceptor.notification import UnparseableNotification

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"


def record(message: str, message_id: str = "msg-1", subject: str | None = None) -> SnsRecordModel:
    topic = "arn:aws:sns:us-east-1:999988887777:connections"
    return SnsRecordModel.model_validate(
        {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{topic}:sub",
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": topic,
                "Subject": subject,
                "Message": message,
                "Timestamp": "2025-03-04T09:59:58.312Z",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            },
        }
    )


def connect(endpoint_id: str, **extra: Any) -> str:
    return json.dumps(
        {
            "awsAccountId": "111122223333",
            "endpointServiceId": SERVICE,
            "endpointId": endpoint_id,
            "endpointState": "pendingAcceptance",
            "eventType": "Connect",
            **extra,
        }
    )


def test_pending_connection_becomes_a_requested_event_with_the_reread_facts() -> None:
    ec2, bus = FakeEc2([pending("vpce-00000001", account="222233334444")]), FakeBus()

    ingest([record(connect("vpce-00000001"))], cast(Any, ec2), cast(Any, bus))

    (event,) = bus.events
    assert event.detail_type == DetailType.REQUESTED
    detail = cast(RequestedDetail, event.detail)
    assert detail.account == "222233334444", "the re-read owner, not the message's"
    assert (detail.origin, detail.correlation_id) == ("notification", "msg-1")
    assert ec2.calls == [("describe", SERVICE, ("vpce-00000001",))]


def test_accepted_connection_becomes_a_state_changed_event() -> None:
    ec2, bus = FakeEc2([pending("vpce-00000001", state="available")]), FakeBus()

    ingest(
        [record(f"Accept: endpoint vpce-00000001 to {SERVICE}", subject="Accept")],
        cast(Any, ec2),
        cast(Any, bus),
    )

    (event,) = bus.events
    detail = cast(StateChangedDetail, event.detail)
    assert event.detail_type == DetailType.STATE_CHANGED
    assert (detail.state, detail.event_type, detail.found) == ("available", "Accept", True)


def test_connection_describe_no_longer_shows_is_state_changed_not_found() -> None:
    bus = FakeBus()

    ingest(
        [record(connect("vpce-00000009", endpointState="deleted", eventType="Delete"))],
        cast(Any, FakeEc2()),
        cast(Any, bus),
    )

    detail = cast(StateChangedDetail, bus.events[0].detail)
    assert (detail.state, detail.event_type, detail.found) == ("deleted", "Delete", False)
    assert detail.service_id == SERVICE


def test_missing_connection_without_a_state_in_the_message_is_deleted() -> None:
    bus = FakeBus()

    ingest([record('{"endpointId": "vpce-00000009"}')], cast(Any, FakeEc2()), cast(Any, bus))

    detail = cast(StateChangedDetail, bus.events[0].detail)
    assert (detail.state, detail.event_type) == ("deleted", "Delete")


def test_unparseable_message_is_logged_with_its_body_and_raised_after_the_rest(
    logged: Callable[[], list[dict[str, Any]]],
) -> None:
    ec2, bus = FakeEc2([pending("vpce-00000001")]), FakeBus()

    with pytest.raises(UnparseableNotification):
        ingest(
            [
                record('{"hello": "world"}', message_id="bad-1"),
                record(connect("vpce-00000001"), message_id="good-1"),
            ],
            cast(Any, ec2),
            cast(Any, bus),
        )

    assert len(bus.events) == 1, "the understood record still went out"
    errors = [entry for entry in logged() if entry.get("level") == "ERROR"]
    assert errors[0]["message_id"] == "bad-1"
    assert errors[0]["body"] == '{"hello": "world"}'
    assert "unparseable" in errors[0]["message"]
