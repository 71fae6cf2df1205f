"""The daily digest of held requests through NotifyFunction's handler, on the local AWS with
the demo world: built from what EC2 and the decision log say, once per channel and per day
(docs/notifications.md, "The daily digest")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from handlers_stack import Stack

from acceptor.flows import wiring
from integration.notify.notify_world import CaptureServer, serving_capture

pytestmark = pytest.mark.integration

OPS, PLATFORM = "/slack/ops-digest-token", "/hooks/platform-digest-token"
POLICY = """\
version: 1
services: ["*"]
default: hold
hold: {expires_after: 3d}
notify: [ops]
rules:
  - name: analytics
    decision: accept
    when: {accounts: ["222233334444"]}
  - name: sandboxes-wait
    decision: hold
    when: {tags: {env: sandbox}}
    notify: [platform]
notifications:
  ops: {type: slack, webhook_secret: privatelink-acceptor/slack-ops}
  platform: {type: webhook, webhook_secret: privatelink-acceptor/platform-hook}
"""


def scheduled(day: str, event_id: str) -> dict[str, Any]:
    """The Scheduled Event of the stack's HeldDigest rule (events/notify-digest-schedule.json)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "999988887777",
        "time": f"{day}T08:00:00Z",
        "region": "us-east-1",
        "resources": [
            "arn:aws:events:us-east-1:999988887777:rule/"
            "privatelink-acceptor-NotifyFunctionHeldDigest-7Q8R9S0T1U2V"
        ],
        "detail": {},
    }


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with serving_capture() as server:
        yield server


@pytest.fixture
def decided(stack: Stack, capture: CaptureServer) -> Iterator[Stack]:
    """Given the demo world's endpoints: analytics accepted, payments-orders, payments-reports
    and sandbox-orders held, and partner-orders pending with no decision (its request lost)."""
    stack.policy(POLICY)
    secrets = stack.clients.client("secretsmanager")
    secrets.create_secret(Name="privatelink-acceptor/slack-ops", SecretString=capture.url(OPS))
    secrets.create_secret(
        Name="privatelink-acceptor/platform-hook", SecretString=capture.url(PLATFORM)
    )
    stack.aws.create_endpoints()
    stack.ingest(stack.notifications())
    partner = endpoint(stack, "partner-orders")
    stack.decide([r for r in stack.requested() if partner not in json.dumps(r)])
    stack.observed()
    wiring.notify_deps.cache_clear()
    yield stack
    wiring.notify_deps.cache_clear()


def endpoint(stack: Stack, name: str) -> str:
    return stack.aws.world.endpoints[name].id


def listed(body: dict[str, Any]) -> set[str]:
    """The endpoints a digest lists: Slack fields (`*vpce-…*`) or the webhook's detail."""
    if "detail" in body:
        return {request["endpoint_id"] for request in body["detail"]["requests"]}
    texts = [f["text"] for block in body["blocks"] if "fields" in block for f in block["fields"]]
    return {text.split("\n", 1)[0].strip("*") for text in texts}


def test_one_digest_per_channel_lists_the_held_and_undecided_requests_once_a_day(
    decided: Stack, capture: CaptureServer
) -> None:
    names = ("payments-orders", "payments-reports", "sandbox-orders", "partner-orders")
    held, undecided = (endpoint(decided, n) for n in names[:3]), endpoint(decided, names[3])
    held_ids = set(held)
    assert decided.state(endpoint(decided, "analytics-orders")) in ("pending", "available")

    # When the first digest of the day runs
    first = decided.notify(scheduled("2025-03-05", "digest-day-1"))

    # Then ops hears of the three held requests and the undecided one, platform of the sandbox
    assert first["status"] == "delivered"
    assert sorted(first["sent"]) == ["ops", "platform"]
    (ops,) = capture.bodies(OPS)
    (platform,) = capture.bodies(PLATFORM)
    assert listed(ops) == held_ids | {undecided}
    assert listed(platform) == {endpoint(decided, "sandbox-orders")}
    assert "4 waiting for a decision" in ops["text"]
    fields = json.dumps(ops)
    assert "not decided yet" in fields
    assert "hold expires" in fields
    assert platform["detail"]["requests"][0]["hold_expires_at"] is not None

    # When the schedule fires again the same day, and the first event is retried
    again = decided.notify(scheduled("2025-03-05", "digest-day-1-again"))
    retried = decided.notify(scheduled("2025-03-05", "digest-day-1"))

    # Then nothing more is sent
    assert again == {"status": "already-digested", "date": "2025-03-05"}
    assert retried["sent"] == []
    assert sorted(retried["already_sent"]) == ["ops", "platform"]
    assert len(capture.bodies(OPS)) == 1
    assert len(capture.bodies(PLATFORM)) == 1

    # When a person accepts payments-orders in the meantime, and the next day comes
    orders = endpoint(decided, "payments-orders")
    service = decided.aws.world.endpoints["payments-orders"].service_id
    decided.clients.ec2().accept_vpc_endpoint_connections(
        ServiceId=service, VpcEndpointIds=[orders]
    )
    next_day = decided.notify(scheduled("2025-03-06", "digest-day-2"))

    # Then the digest is sent again, without the connection that is no longer pending
    assert next_day["status"] == "delivered"
    assert listed(capture.bodies(OPS)[-1]) == (held_ids - {orders}) | {undecided}
    assert len(capture.bodies(PLATFORM)) == 2


def test_nothing_held_sends_nothing(stack: Stack, capture: CaptureServer) -> None:
    # Given a world whose endpoints were never created: nothing is pending
    stack.policy(POLICY)
    wiring.notify_deps.cache_clear()

    result = stack.notify(scheduled("2025-03-05", "digest-empty"))

    assert result == {"status": "nothing-held", "date": "2025-03-05"}
    assert capture.requests == []


def redecided(event: dict[str, Any], hour: int) -> dict[str, Any]:
    """The same hold decided again by the sweep `hour` hours later (a new Decided event)."""
    again = json.loads(json.dumps(event))
    decided_at = datetime.fromisoformat(event["detail"]["decided_at"]) + timedelta(hours=hour)
    stamp = decided_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    again["id"], again["time"] = f"{event['id']}-sweep-{hour}", stamp
    again["detail"].update(decided_at=stamp, origin="sweep")
    return again


def test_a_held_connection_is_told_twice_a_day_its_hold_and_one_digest_line(
    stack: Stack, capture: CaptureServer
) -> None:
    # Given three held connections (and an accepted one), each decided by its Connect
    stack.policy(POLICY)
    stack.clients.client("secretsmanager").create_secret(
        Name="privatelink-acceptor/slack-ops", SecretString=capture.url(OPS)
    )
    stack.clients.client("secretsmanager").create_secret(
        Name="privatelink-acceptor/platform-hook", SecretString=capture.url(PLATFORM)
    )
    stack.aws.create_endpoints()
    stack.ingest(stack.notifications())
    partner = endpoint(stack, "partner-orders")
    stack.decide([r for r in stack.requested() if partner not in json.dumps(r)])
    decided = [e for e in stack.observed() if e["detail-type"] == "Endpoint Connection Decided"]
    holds = [e for e in decided if e["detail"]["decision"] == "hold"]
    assert len(holds) == 3
    wiring.notify_deps.cache_clear()

    # When Notify gets each decision, the same holds decided again by 24 hourly sweeps, and a
    # digest schedule that fires every hour of the day (cron(0 * * * ? *))
    for event in decided:
        stack.notify(event)
    for hour in range(1, 25):
        for event in holds:
            stack.notify(redecided(event, hour))
        stack.notify(scheduled("2025-03-05", f"digest-hour-{hour}"))

    # Then ops was told of each held connection twice: its Held message and one digest line
    posts = [json.dumps(body) for body in capture.bodies(OPS)]
    told = {
        e["detail"]["endpoint_id"]: sum(e["detail"]["endpoint_id"] in p for p in posts)
        for e in holds
    }
    per_day = sum(told.values()) / len(told)
    print(f"\nmessages per held connection per day: {per_day} (1 Held message + 1 digest line)")
    assert set(told.values()) == {2}
