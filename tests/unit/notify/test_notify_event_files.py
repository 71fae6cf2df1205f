"""Every NotifyFunction input in events/ is read by the handler's own envelope model and planned
into the documented outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from notify_samples import DECIDE_ROLE, SERVICE, orders_policy

from acceptor.contract import DecidedEvent, StateChangedEvent
from acceptor.notify.dispatch import Inputs, plan
from acceptor.notify.events import Envelope

EVENTS = Path(__file__).resolve().parents[3] / "events"
# The digest's Scheduled Event goes to the digest flow, not to `plan`: its shape is checked by
# tests/unit/test_events_files.py, what it sends by test_notify_digest_local_aws.py.
DIGEST_SCHEDULE = "notify-digest-schedule.json"
FILES = sorted(
    p
    for p in [*EVENTS.glob("notify-*.json"), *EVENTS.glob("cloudtrail-*.json")]
    if p.name != DIGEST_SCHEDULE
)

# file -> (message kind or None when ignored, channels)
OUTCOMES: dict[str, tuple[str | None, list[str]]] = {
    "notify-decided-accept.json": ("decision", ["ops", "payments-team"]),
    "notify-decided-hold.json": ("decision", ["ops"]),
    "notify-decided-reject-dry-run.json": ("decision", ["ops"]),
    "notify-state-changed-deleted.json": ("state-change", ["ops", "audit"]),
    "notify-security-groups-shared-group.json": ("security-groups", ["audit"]),
    "cloudtrail-accept-by-console-user.json": ("manual-override", ["ops", "audit", "stack-topic"]),
    "cloudtrail-accept-by-acceptor.json": (None, []),
    # Without the tables (no `console` input) a person's accept alerts, held or not.
    "cloudtrail-accept-held-by-approver.json": ("manual-override", ["ops", "audit", "stack-topic"]),
    "cloudtrail-accept-rejected-by-approver.json": (
        "manual-override",
        ["ops", "audit", "stack-topic"],
    ),
    "cloudtrail-modify-permissions-by-console-user.json": (
        "manual-override",
        ["ops", "audit", "stack-topic"],
    ),
}


def test_every_notify_event_file_has_a_documented_outcome() -> None:
    assert sorted(p.name for p in FILES) == sorted(OUTCOMES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_event_file_is_read_and_planned_as_documented(path: Path) -> None:
    event = json.loads(path.read_text())
    loaded = orders_policy()
    envelope = Envelope.model_validate(event)
    if envelope.detail_type == "Endpoint Connection Decided":
        DecidedEvent.model_validate(event)
    elif envelope.detail_type == "Endpoint Connection State Changed":
        StateChangedEvent.model_validate(event)

    result = plan(
        envelope,
        Inputs(
            policy=lambda: loaded,
            account_name=lambda _account: None,
            is_managed={SERVICE}.__contains__,
            acceptor_role_arns=(DECIDE_ROLE,),
        ),
    )

    kind, names = OUTCOMES[path.name]
    assert (result.message.kind if result.message else None) == kind
    assert sorted(t.name for t in result.targets) == sorted(names)
