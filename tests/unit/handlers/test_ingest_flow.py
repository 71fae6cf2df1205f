"""The Ingest flow: a notification, the truth re-read, one event; unparseable → raised.

The message is only a hint: a wrong service ID is looked past (the managed services are
searched), "deleted" is put only when no re-read shows the connection, parsing is bounded, and
each record is handled on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, cast

import pytest
from handler_fakes import FakeBus, FakeEc2, pending

from acceptor.aws.errors import Throttled
from acceptor.contract import DetailType, RequestedDetail, StateChangedDetail
from acceptor.flows import ingest as ingest_module
from acceptor.flows.ingest import LOGGED_BODY_CHARS, IngestDeps, Ingested, ingest_event
from acceptor.notification import UnparseableNotification

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
OTHER_SERVICE = "vpce-svc-0b2c3d4e5f6a78901"
UNMANAGED_SERVICE = "vpce-svc-0c3d4e5f6a7b89012"
MANAGED = frozenset({SERVICE, OTHER_SERVICE})
TOPIC = "arn:aws:sns:us-east-1:999988887777:connections"


def sns_record(
    message: Any, message_id: str = "msg-1", subject: str | None = None
) -> dict[str, Any]:
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{TOPIC}:sub",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC,
            "Subject": subject,
            "Message": message,
            "Timestamp": "2025-03-04T09:59:58.312Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {},
        },
    }


def record(message: str, message_id: str = "msg-1", subject: str | None = None) -> dict[str, Any]:
    return sns_record(message, message_id, subject)


def ingest(
    records: Sequence[dict[str, Any]],
    ec2: Any,
    bus: Any,
    managed: frozenset[str] = MANAGED,
) -> list[Ingested]:
    return ingest_event({"Records": list(records)}, IngestDeps(ec2=ec2, bus=bus, managed=managed))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    monkeypatch.setattr(ingest_module, "count", lambda name, value=1: seen.append((name, value)))
    return seen


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
    assert ec2.calls == [("find", SERVICE, ("vpce-00000001",))]


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


# Finding: a wrong service ID was taken on trust.


def test_connect_naming_a_wrong_service_is_still_requested_through_the_managed_services() -> None:
    ec2 = FakeEc2([pending("vpce-00000001", service_id=OTHER_SERVICE)])
    bus = FakeBus()

    ingest([record(connect("vpce-00000001"))], cast(Any, ec2), cast(Any, bus))

    (event,) = bus.events
    assert event.detail_type == DetailType.REQUESTED
    assert cast(RequestedDetail, event.detail).service_id == OTHER_SERVICE, "the re-read service"
    assert ec2.calls == [
        ("find", SERVICE, ("vpce-00000001",)),
        ("find", OTHER_SERVICE, ("vpce-00000001",)),
    ]


def test_delete_naming_a_wrong_service_of_a_live_connection_is_not_deleted() -> None:
    ec2 = FakeEc2([pending("vpce-00000001", service_id=OTHER_SERVICE, state="available")])
    bus = FakeBus()
    message = connect("vpce-00000001", endpointState="deleted", eventType="Delete")

    ingest([record(message)], cast(Any, ec2), cast(Any, bus))

    detail = cast(StateChangedDetail, bus.events[0].detail)
    assert (detail.state, detail.found, detail.service_id) == ("available", True, OTHER_SERVICE)


def test_a_message_naming_an_unmanaged_service_is_looked_up_in_the_managed_ones() -> None:
    ec2 = FakeEc2([pending("vpce-00000001")])
    bus = FakeBus()

    ingest(
        [record(connect("vpce-00000001", endpointServiceId=UNMANAGED_SERVICE))],
        cast(Any, ec2),
        cast(Any, bus),
    )

    assert cast(RequestedDetail, bus.events[0].detail).service_id == SERVICE


def test_without_managed_services_listed_every_service_of_the_account_is_searched() -> None:
    ec2 = FakeEc2([pending("vpce-00000001", service_id=OTHER_SERVICE)])
    bus = FakeBus()

    ingest([record(connect("vpce-00000001"))], cast(Any, ec2), cast(Any, bus), frozenset())

    assert bus.events[0].detail_type == DetailType.REQUESTED
    assert ec2.calls[-1] == ("find", "*", ("vpce-00000001",))


def test_connect_no_reread_shows_yet_puts_nothing_and_is_counted(
    counted: list[tuple[str, int]], logged: Callable[[], list[dict[str, Any]]]
) -> None:
    bus = FakeBus()

    ingest([record(connect("vpce-00000009"))], cast(Any, FakeEc2()), cast(Any, bus))

    assert bus.events == [], "a Connect never becomes 'deleted'"
    assert ("NotificationsNotFound", 1) in counted
    assert any("sweep" in line["message"] for line in logged())


def test_deleted_is_put_only_after_every_managed_service_was_reread() -> None:
    ec2, bus = FakeEc2(), FakeBus()
    message = connect("vpce-00000009", endpointState="deleted", eventType="Delete")

    ingest([record(message)], cast(Any, ec2), cast(Any, bus))

    searched = {call[1] for call in ec2.calls}
    assert searched == {SERVICE, OTHER_SERVICE}
    detail = cast(StateChangedDetail, bus.events[0].detail)
    assert (detail.state, detail.found) == ("deleted", False)


def test_a_message_claiming_rejected_for_a_gone_connection_says_deleted_not_rejected() -> None:
    bus = FakeBus()
    message = connect("vpce-00000009", endpointState="rejected", eventType="Reject")

    ingest([record(message)], cast(Any, FakeEc2()), cast(Any, bus))

    detail = cast(StateChangedDetail, bus.events[0].detail)
    assert (detail.state, detail.found) == ("deleted", False), "the re-read, not the message"


# Finding: bad input crashed raw; one bad record stopped the good ones.

DEEP = "[" * 1000 + "]" * 1000
HUGE_NUMBER = '{"endpointId": "vpce-00000001", "n": ' + "9" * 5000 + "}"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(DEEP, id="nested-1000-levels"),
        pytest.param('{"endpointId": "vpce-00000001", "x": ' + DEEP + "}", id="deep-beside-an-id"),
        pytest.param(HUGE_NUMBER, id="integer-of-5000-digits"),
        pytest.param("vpce-00000001 " + "x" * 300_000, id="over-256-KiB"),
    ],
)
def test_messages_beyond_the_bounds_are_unparseable_with_the_body_logged_truncated(
    message: str, logged: Callable[[], list[dict[str, Any]]]
) -> None:
    ec2, bus = FakeEc2([pending("vpce-00000001")]), FakeBus()

    with pytest.raises(UnparseableNotification):
        ingest([record(message, message_id="bad-1")], cast(Any, ec2), cast(Any, bus))

    (error,) = [line for line in logged() if line["level"] == "ERROR"]
    assert error["message_id"] == "bad-1"
    assert error["body"] == message[:LOGGED_BODY_CHARS]
    assert error["body_chars"] == len(message)
    assert bus.events == []


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"EventSource": "aws:sns", "Sns": None}, id="sns-null"),
        pytest.param(None, id="record-null"),
        pytest.param("text", id="record-a-string"),
        pytest.param(sns_record(["a", "list"]), id="message-a-list"),
        pytest.param(sns_record(DEEP, message_id="bad-deep"), id="deep-message"),
    ],
)
def test_a_bad_record_does_not_stop_the_good_one_beside_it_and_is_named(
    bad: Any, logged: Callable[[], list[dict[str, Any]]]
) -> None:
    ec2, bus = FakeEc2([pending("vpce-00000001")]), FakeBus()

    with pytest.raises(UnparseableNotification) as raised:
        ingest([bad, record(connect("vpce-00000001"), message_id="good-1")], ec2, bus)

    assert [event.detail_type for event in bus.events] == [DetailType.REQUESTED]
    assert "1 unparseable record" in str(raised.value)
    assert any(line["level"] == "ERROR" for line in logged())


@pytest.mark.parametrize(
    "event",
    [None, [], "text", {"Records": None}, {"Records": {"Sns": {}}}, {"records": []}],
    ids=["none", "list", "text", "records-null", "records-a-mapping", "no-records-key"],
)
def test_an_event_that_is_not_sns_is_unparseable_as_a_whole(event: Any) -> None:
    deps = IngestDeps(ec2=cast(Any, FakeEc2()), bus=cast(Any, FakeBus()), managed=MANAGED)

    with pytest.raises(UnparseableNotification):
        ingest_event(event, deps)


def test_an_event_with_no_records_is_logged_and_counted_not_silent(
    counted: list[tuple[str, int]], logged: Callable[[], list[dict[str, Any]]]
) -> None:
    bus = FakeBus()

    assert ingest([], cast(Any, FakeEc2()), cast(Any, bus)) == []

    assert ("EmptyNotificationEvents", 1) in counted
    assert any(line["level"] == "WARNING" for line in logged())
    assert bus.events == []


def test_a_failed_reread_of_one_record_lets_the_others_out_then_raises() -> None:
    class OneFails(FakeEc2):
        def find(self, endpoint_ids: Sequence[str], service_ids: Any) -> dict[str, Any]:
            if "vpce-00000002" in endpoint_ids:
                raise Throttled("DescribeVpcEndpointConnections", "RequestLimitExceeded", "slow")
            return super().find(endpoint_ids, service_ids)

    ec2, bus = OneFails([pending("vpce-00000001")]), FakeBus()

    with pytest.raises(Throttled):
        ingest(
            [record(connect("vpce-00000002"), "m-2"), record(connect("vpce-00000001"), "m-1")],
            cast(Any, ec2),
            cast(Any, bus),
        )

    assert [cast(RequestedDetail, e.detail).endpoint_id for e in bus.events] == ["vpce-00000001"]
