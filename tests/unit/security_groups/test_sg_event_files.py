"""The events/security-groups-*.json files are what SecurityGroupsFunction receives: each one
parses through the handler's own reader and asks for the operation its name says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acceptor.handlers.security_groups import Home, UnexpectedEvent, read_event
from acceptor.security_groups.triggers import operation_for
from acceptor.settings import SecurityGroupsSettings

EVENTS = Path(__file__).resolve().parents[3] / "events"
HOME = Home("999988887777", "us-east-1")
EXPECTED = {
    "security-groups-decided-accept.json": ("add", False),
    "security-groups-decided-accept-dry-run.json": ("add", True),
    "security-groups-decided-revocation.json": ("remove", False),
    "security-groups-state-deleted.json": ("remove", False),
    "security-groups-state-rejected.json": ("remove", False),
}


def test_every_security_groups_event_file_is_covered() -> None:
    assert sorted(p.name for p in EVENTS.glob("security-groups-*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_file_parses_and_asks_for_its_operation(name: str) -> None:
    event = json.loads((EVENTS / name).read_text())

    trigger, request, correlation_id = read_event(event, SecurityGroupsSettings(), HOME)

    operation, _ = operation_for(trigger)
    assert (operation, request.dry_run) == EXPECTED[name]
    assert request.endpoint_id == event["detail"]["endpoint_id"]
    assert request.provider_account == HOME.account
    assert correlation_id == event["detail"]["correlation_id"]


def test_the_accept_file_carries_both_sides_of_the_rule() -> None:
    event = json.loads((EVENTS / "security-groups-decided-accept.json").read_text())

    _, request, _ = read_event(event, SecurityGroupsSettings(), HOME)

    assert request.spec is not None
    assert request.spec.consumer_endpoint is not None
    assert request.spec.provider is not None
    assert request.decided_cidrs == ("10.10.0.0/16", "2400:6500:d62b:7c00::/56")


def test_the_dry_run_setting_makes_every_event_a_plan() -> None:
    event = json.loads((EVENTS / "security-groups-decided-accept.json").read_text())
    settings = SecurityGroupsSettings.model_validate({"DRY_RUN": "true"})

    _, request, _ = read_event(event, settings, HOME)

    assert request.dry_run is True


def test_a_requested_event_is_not_for_this_function() -> None:
    event = json.loads((EVENTS / "bus-requested-notification.json").read_text())

    with pytest.raises(UnexpectedEvent):
        read_event(event, SecurityGroupsSettings(), HOME)
