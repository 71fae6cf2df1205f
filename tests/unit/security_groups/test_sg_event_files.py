"""The events/security-groups-*.json files are what SecurityGroupsFunction receives: each one
parses through the flow's own reader and asks for the operation its name says. What an event
carries besides names (rules, ports, CIDRs) is never read into the request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acceptor.flows.security_groups import UnexpectedEvent, read_event
from acceptor.security_groups.triggers import operation_for

EVENTS = Path(__file__).resolve().parents[3] / "events"
EXPECTED = {
    "security-groups-decided-accept.json": ("add", False),
    "security-groups-decided-accept-dry-run.json": ("add", True),
    "security-groups-decided-accept-forged.json": ("add", False),
    "security-groups-decided-revocation.json": ("remove", False),
    "security-groups-state-deleted.json": ("remove", False),
    "security-groups-state-rejected.json": ("remove", False),
}


def test_every_security_groups_event_file_is_covered() -> None:
    assert sorted(p.name for p in EVENTS.glob("security-groups-*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_file_parses_and_asks_for_its_operation(name: str) -> None:
    event = json.loads((EVENTS / name).read_text())

    hint = read_event(event, dry_run=False)

    operation, _ = operation_for(hint.trigger)
    assert (operation, hint.dry_run) == EXPECTED[name]
    assert hint.endpoint_id == event["detail"]["endpoint_id"]
    assert hint.correlation_id == event["detail"]["correlation_id"]


def test_an_accept_event_yields_names_to_look_up_and_nothing_to_open() -> None:
    event = json.loads((EVENTS / "security-groups-decided-accept-forged.json").read_text())

    hint = read_event(event, dry_run=False)

    assert hint.claim is not None
    assert (hint.claim.rule, hint.claim.policy_hash) == ("payments-prod", "3f2a9c0d1e4b5a67")
    # The event's ports and CIDRs have nowhere to go: the hint has no field for them.
    assert not {"spec", "security_groups", "cidrs", "vpc_cidrs"} & set(vars(hint))
    assert not {"spec", "security_groups", "cidrs", "vpc_cidrs"} & set(vars(hint.claim))


def test_the_dry_run_setting_makes_every_event_a_plan() -> None:
    event = json.loads((EVENTS / "security-groups-decided-accept.json").read_text())

    assert read_event(event, dry_run=True).dry_run is True


def test_a_requested_event_is_not_for_this_function() -> None:
    event = json.loads((EVENTS / "bus-requested-notification.json").read_text())

    with pytest.raises(UnexpectedEvent):
        read_event(event, dry_run=False)
