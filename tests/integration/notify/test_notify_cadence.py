"""Once per change (docs/notifications.md): NotifyFunction tells people about a decision or a
state once, on the local AWS with its DynamoDB, whatever the sweeps, duplicates and shuffled
deliveries."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_world import SLACK_PATH, NotifyWorld, event_file

from acceptor.handlers.notify import handler
from helpers.aws import LambdaContext

pytestmark = pytest.mark.integration

HELD = 10
SWEEPS_PER_DAY = 24
START = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def held(endpoint: int, hour: int, origin: str = "sweep") -> dict[str, Any]:
    """The Decided hold of connection `endpoint`, as the sweep of `hour` decides it again."""
    event = copy.deepcopy(event_file("notify-decided-hold.json"))
    decided_at = START + timedelta(hours=hour, seconds=endpoint)
    event["id"] = f"hold-{endpoint}-{hour}-{origin}"
    event["time"] = _z(decided_at)
    event["detail"].update(
        endpoint_id=f"vpce-{endpoint:017x}", decided_at=_z(decided_at), origin=origin
    )
    return event


def accepted(at: datetime) -> dict[str, Any]:
    event = copy.deepcopy(event_file("notify-decided-accept.json"))
    event["id"], event["time"] = f"accept-{at.isoformat()}", _z(at)
    event["detail"]["decided_at"] = _z(at)
    return event


def state(name: str, at: datetime, event_id: str) -> dict[str, Any]:
    event = copy.deepcopy(event_file("notify-state-changed-deleted.json"))
    event["id"], event["time"] = event_id, _z(at)
    event["detail"].update(state=name, event_type={"available": "Accept"}.get(name, "Delete"))
    return event


def test_held_connections_get_one_held_message_a_day_however_often_they_are_swept(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    # Given 10 held connections, each decided by its Connect and then by 24 hourly sweeps
    events = [held(e, 0, origin="notification") for e in range(HELD)]
    events += [held(e, hour) for hour in range(SWEEPS_PER_DAY) for e in range(HELD)]

    # When NotifyFunction gets every Decided event
    results = [handler(event, lambda_context) for event in events]

    # Then each connection was announced once: 10 Slack posts, not 250
    delivered = [r for r in results if r["status"] == "delivered"]
    posts = notify_world.capture.bodies(SLACK_PATH)
    per_connection_per_day = len(posts) / HELD
    print(f"\nheld messages per held connection per day: {per_connection_per_day}")
    assert per_connection_per_day == 1
    assert len(delivered) == HELD
    assert {r["status"] for r in results} == {"delivered", "already-told"}


def test_duplicate_and_shuffled_state_changes_are_told_once_per_change(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    # Given an accept (the connection then available), its Accept notification, two
    # duplicates of it, a stale Connect's re-read (still available), then the endpoint deleted
    decided_at = START
    changes = [
        accepted(decided_at),
        state("available", decided_at + timedelta(seconds=5), "accept-notification"),
        state("deleted", decided_at + timedelta(hours=2), "delete-notification"),
    ]
    noise = [
        state("available", decided_at + timedelta(seconds=5), "accept-notification"),
        state("available", decided_at + timedelta(seconds=6), "accept-notification-again"),
        state("available", decided_at + timedelta(minutes=1), "stale-connect-reread"),
    ]
    deliveries = changes + noise
    random.Random(7).shuffle(deliveries)
    # the deletion is the newest truth: deliver it last, the others in any order
    deliveries.sort(key=lambda e: e["id"] == "delete-notification")

    results = [handler(event, lambda_context) for event in deliveries]

    # Then people were told twice: the accept (available) and the deletion
    told = [e["id"] for e, r in zip(deliveries, results, strict=True) if r["status"] == "delivered"]
    assert len(told) == 2, told
    assert "delete-notification" in told


def test_a_stale_state_change_after_a_newer_one_is_not_told(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    newer = state("deleted", START + timedelta(hours=1), "delete")
    older = state("available", START, "accept")

    assert handler(newer, lambda_context)["status"] == "delivered"
    assert handler(older, lambda_context)["status"] == "already-told"


def test_a_retried_event_is_delivered_again_to_the_channels_that_failed(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    event = held(1, 0)

    first = handler(event, lambda_context)
    again = handler(event, lambda_context)

    assert first["status"] == "delivered"
    assert again == {"status": "delivered", "sent": [], "already_sent": first["sent"]}
