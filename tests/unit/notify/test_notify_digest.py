"""The daily digest of held requests (acceptor.notify.digest, acceptor.decision.standing): what
each channel's message lists, and what it says of each request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from notify_samples import CONSUMER, OTHER_SERVICE, SERVICE, orders_policy, policy

from acceptor.decision.connection import Connection
from acceptor.decision.standing import Standing, standings
from acceptor.notify.digest import MAX_LISTED, UNDECIDED, plan_digests, span
from acceptor.notify.render import text
from acceptor.policy.policy_set import PolicySet

NOW = datetime(2025, 3, 7, 8, 0, tzinfo=UTC)
DAY = NOW.date()


def connection(
    number: int, *, service: str = SERVICE, state: str = "pendingAcceptance", age_hours: float = 50
) -> Connection:
    return Connection(
        service_id=service,
        endpoint_id=f"vpce-{number:017x}",
        account=CONSUMER,
        region="us-east-1",
        state=state,
        created_at=NOW - timedelta(hours=age_hours),
    )


def record(endpoint: Connection, decision: str = "hold", **extra: Any) -> dict[str, Any]:
    """A decision record as the decision log keeps it (the Decided detail, docs/events.md)."""
    return {
        "kind": "decision",
        "endpoint_id": endpoint.endpoint_id,
        "service_id": endpoint.service_id,
        "decision": decision,
        "rule": None,
        "reason": "no rule matched; the default holds",
        "missing_facts": ["tags"],
        "unknown_reasons": {"tags": "the consumer role could not be assumed (AccessDenied)"},
        "notify": ["ops"],
        "decided_at": "2025-03-05T06:00:00Z",
        **extra,
    }


def expiring_policy(after: str = "72h") -> PolicySet:
    return policy(
        (
            "policies/orders.yaml",
            {
                "version": 1,
                "services": [SERVICE],
                "default": "hold",
                "hold": {"expires_after": after},
                "notify": ["ops"],
                "notifications": {
                    "ops": {"type": "slack", "webhook_secret": "privatelink-acceptor/slack-ops"},
                    "security": {"type": "sns"},
                },
            },
        )
    )


def plan(found: list[Standing], used: PolicySet) -> dict[str, Any]:
    digests = plan_digests(
        found, used, day=DAY, now=NOW, provider_region="us-east-1", account_name=lambda _: None
    )
    return {d.target.name: d for d in digests}


def test_a_held_request_is_listed_with_its_age_expiry_reason_and_missing_facts() -> None:
    held = connection(1, age_hours=50)
    used = expiring_policy("72h")

    (digest,) = plan(standings([held], {held.endpoint_id: record(held)}, used), used).values()

    (item,) = digest.message.items
    assert item.label == held.endpoint_id
    assert f"{CONSUMER} to {SERVICE}" in item.value
    assert "waiting 2 d 2 h (since 2025-03-05T06:00Z)" in item.value
    assert "hold expires 2025-03-08T06:00Z (in 22 h 0 min)" in item.value
    assert "no rule matched; the default holds" in item.value
    assert "missing: tags (the consumer role could not be assumed (AccessDenied))" in item.value
    assert digest.message.dedup_key == "digest:2025-03-07"
    assert digest.message.detail["requests"][0]["hold_expires_at"] == "2025-03-08T06:00:00+00:00"


def test_a_hold_past_its_expiry_says_the_next_sweep_rejects_it() -> None:
    held = connection(1, age_hours=80)
    used = expiring_policy("72h")

    (digest,) = plan(standings([held], {held.endpoint_id: record(held)}, used), used).values()

    assert "(passed: the next sweep rejects it)" in digest.message.items[0].value


def test_a_hold_without_a_limit_never_expires() -> None:
    held = connection(1)
    used = orders_policy()

    (digest,) = plan(standings([held], {held.endpoint_id: record(held)}, used), used).values()

    assert "hold expires never" in digest.message.items[0].value


def test_a_pending_request_without_a_decision_record_is_listed_as_not_decided_yet() -> None:
    # Given a pending connection nobody decided (a lost notification, a sweep not yet run)
    undecided = connection(2)
    used = orders_policy()

    # When the digest is planned
    found = plan(standings([undecided], {}, used), used)

    # Then the file-level channels of the files governing its service hear of it
    assert set(found) == {"ops", "audit"}
    assert UNDECIDED in found["ops"].message.items[0].value
    assert "1 not decided yet" in found["ops"].message.summary


def test_only_held_and_undecided_pending_requests_are_listed() -> None:
    used = orders_policy()
    held = connection(1)
    undecided = connection(2)
    accepted_but_pending = connection(3)  # an accept that failed: alerted by its own message
    available = connection(4, state="available")  # held once, approved since
    records = {
        held.endpoint_id: record(held),
        accepted_but_pending.endpoint_id: record(accepted_but_pending, "accept"),
        available.endpoint_id: record(available),
    }

    found = plan(standings([held, undecided, accepted_but_pending, available], records, used), used)

    assert found["ops"].listed == (held.endpoint_id, undecided.endpoint_id)


def test_each_request_goes_to_the_channels_its_hold_told_one_message_per_channel() -> None:
    # Given two holds told to ops, one of them also to security, and one to audit only
    used = orders_policy()
    first, second, third = connection(1), connection(2), connection(3, service=OTHER_SERVICE)
    records = {
        first.endpoint_id: record(first, notify=["ops", "security"]),
        second.endpoint_id: record(second, notify=["ops"]),
        third.endpoint_id: record(third, notify=["audit"]),
    }

    found = plan(standings([first, second, third], records, used), used)

    assert {name: d.listed for name, d in found.items()} == {
        "ops": (first.endpoint_id, second.endpoint_id),
        "security": (first.endpoint_id,),
        "audit": (third.endpoint_id,),
    }
    assert found["ops"].message.title == "Held requests on 2025-03-07: 2 waiting for a decision"


def test_a_channel_the_policy_no_longer_defines_is_kept_to_fail_loudly() -> None:
    used = orders_policy()
    held = connection(1)

    found = plan(standings([held], {held.endpoint_id: record(held, notify=["gone"])}, used), used)

    assert found["gone"].target.channel is None


def test_a_long_list_is_bounded_and_says_how_many_more() -> None:
    used = orders_policy()
    many = [connection(n, age_hours=100 - n) for n in range(MAX_LISTED + 7)]

    (digest,) = plan(standings(many, {c.endpoint_id: record(c) for c in many}, used), used).values()

    assert len(digest.listed) == MAX_LISTED
    assert digest.omitted == 7
    assert digest.listed[0] == many[0].endpoint_id  # the oldest request first
    assert digest.message.items[-1].value.startswith("and 7 more")
    assert f"{MAX_LISTED + 7} connection request(s) wait" in digest.message.summary


def test_nothing_waiting_plans_no_digest() -> None:
    used = orders_policy()
    available = connection(1, state="available")

    assert (
        plan(standings([available], {available.endpoint_id: record(available)}, used), used) == {}
    )


def test_the_digest_renders_as_plain_text_for_email() -> None:
    used = expiring_policy()
    held = connection(1)
    (digest,) = plan(standings([held], {held.endpoint_id: record(held)}, used), used).values()

    payload = text(digest.message)

    assert payload.subject == "Held requests on 2025-03-07: 1 waiting for a decision"
    assert f"{held.endpoint_id}: {CONSUMER} to {SERVICE}; waiting 2 d 2 h" in payload.body
    assert payload.attributes["kind"] == "digest"


def test_durations_read_in_days_hours_and_minutes() -> None:
    assert span(timedelta(days=3, hours=4, minutes=5)) == "3 d 4 h"
    assert span(timedelta(hours=5, minutes=12)) == "5 h 12 min"
    assert span(timedelta(minutes=7, seconds=59)) == "7 min"
    assert span(timedelta(seconds=-5)) == "0 min"


def test_the_day_is_the_dedup_key_of_every_channel() -> None:
    used = orders_policy()
    held = connection(1)
    digests = plan_digests(
        standings([held], {held.endpoint_id: record(held, notify=["ops", "audit"])}, used),
        used,
        day=date(2025, 3, 8),
        now=NOW,
        provider_region=None,
        account_name=lambda _: "payments-prod",
    )

    assert {d.message.dedup_key for d in digests} == {"digest:2025-03-08"}
    assert f"{CONSUMER} (payments-prod) to" in digests[0].message.items[0].value


def test_a_hold_decided_in_a_dry_run_says_so() -> None:
    used = orders_policy()
    held = connection(1)

    (digest,) = plan(
        standings([held], {held.endpoint_id: record(held, dry_run=True)}, used), used
    ).values()

    assert "held in a dry run" in digest.message.items[0].value
