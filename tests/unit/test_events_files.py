"""Every sample event in events/ is the exact input its function receives: each one is
validated here through the model that function's handler parses it with."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from acceptor.approval.http import body_bytes, caller_arn
from acceptor.approval.model import ApprovalAsk
from acceptor.approval.slack import click_of
from acceptor.contract import (
    DecidedEvent,
    RequestedEvent,
    SecurityGroupsUpdatedEvent,
    StateChangedEvent,
)
from acceptor.handlers import approval, decide, ingest, notify, reconcile
from acceptor.notification import UnparseableNotification, parse_notification

pytestmark = pytest.mark.disable_socket

EVENTS = Path(__file__).parents[2] / "events"


def check_sns(data: dict[str, Any], name: str) -> None:
    for record in ingest.EVENT_MODEL.model_validate(data).Records:
        message, subject = str(record.Sns.Message), record.Sns.Subject
        if "unparseable" in name:
            with pytest.raises(UnparseableNotification):
                parse_notification(message, subject)
        else:
            assert parse_notification(message, subject).endpoint_id.startswith("vpce-")


def check_schedule(data: dict[str, Any], name: str) -> None:
    schedule = reconcile.EVENT_MODEL.model_validate(data)
    assert schedule.detail_type == "Scheduled Event"


def check_digest_schedule(data: dict[str, Any], name: str) -> None:
    """NotifyFunction sends a Scheduled Event to its digest flow; the rule is named as AWS names
    the one SAM makes of its `HeldDigest` event (the replay delivers it there)."""
    schedule = reconcile.EVENT_MODEL.model_validate(data)
    assert schedule.detail_type == notify.SCHEDULED
    assert any("-NotifyFunctionHeldDigest-" in arn for arn in schedule.resources)


def check_sqs_batch(data: dict[str, Any], name: str) -> None:
    batch = decide.EVENT_MODEL.model_validate(data)
    assert batch.Records
    for record in batch.Records:
        decide.RECORD_BODY_MODEL.model_validate_json(str(record.body))


def check_approval_url(data: dict[str, Any], name: str) -> None:
    request = approval.EVENT_MODEL.model_validate(data)
    assert caller_arn(request) is not None, "an AWS_IAM function URL names its caller"
    ApprovalAsk.model_validate_json(body_bytes(request))


def check_slack_url(data: dict[str, Any], name: str) -> None:
    request = approval.EVENT_MODEL.model_validate(data)
    assert {"x-slack-signature", "x-slack-request-timestamp"} <= set(request.headers)
    assert click_of(body_bytes(request)).endpoint_id.startswith("vpce-")


def check_with(model: type[BaseModel]) -> Callable[[dict[str, Any], str], None]:
    def check(data: dict[str, Any], name: str) -> None:
        model.model_validate(data)

    return check


# File name prefix -> how that function's handler reads it.
CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "ingest-sns-": check_sns,
    "reconcile-": check_schedule,
    "notify-digest-": check_digest_schedule,
    "decide-sqs-": check_sqs_batch,
    "bus-requested-": check_with(RequestedEvent),
    "bus-decided-": check_with(DecidedEvent),
    "bus-state-changed-": check_with(StateChangedEvent),
    "approval-url-": check_approval_url,
    "slack-url-": check_slack_url,
}
# Inputs of SecurityGroups and Notify, validated by their own handlers' tests
# (tests/unit/security_groups, tests/unit/notify); the bus events among them are also checked
# against the contract below.
OTHERS = ("notify-", "cloudtrail-", "security-groups-")
CONTRACT = {
    "Endpoint Connection Requested": RequestedEvent,
    "Endpoint Connection Decided": DecidedEvent,
    "Endpoint Connection State Changed": StateChangedEvent,
    "Endpoint Connection Security Groups Updated": SecurityGroupsUpdatedEvent,
}

FILES = sorted(EVENTS.glob("*.json"))


def test_every_event_file_is_claimed_by_a_function() -> None:
    unclaimed = [f.name for f in FILES if not f.name.startswith((*CHECKS, *OTHERS))]

    assert unclaimed == [], f"no handler model validates {unclaimed}; add it to CHECKS"


@pytest.mark.parametrize(
    "path", [f for f in FILES if f.name.startswith(tuple(CHECKS))], ids=lambda p: p.name
)
def test_event_file_parses_with_its_handlers_model(path: Path) -> None:
    check = next(c for prefix, c in CHECKS.items() if path.name.startswith(prefix))

    check(json.loads(path.read_text()), path.name)


def _is_bus_event(path: Path) -> bool:
    data = json.loads(path.read_text())
    return isinstance(data, dict) and data.get("source") == "privatelink-acceptor"


@pytest.mark.parametrize("path", [f for f in FILES if _is_bus_event(f)], ids=lambda p: p.name)
def test_bus_events_in_any_file_follow_the_contract(path: Path) -> None:
    data = json.loads(path.read_text())

    CONTRACT[data["detail-type"]].model_validate(data)


def test_the_decide_batch_holds_every_requested_origin_but_revocation() -> None:
    batch = decide.EVENT_MODEL.model_validate(
        json.loads((EVENTS / "decide-sqs-batch.json").read_text())
    )
    origins = {
        decide.RECORD_BODY_MODEL.model_validate_json(str(r.body)).detail.origin
        for r in batch.Records
    }

    assert origins == {"notification", "sweep", "hold-expired"}


def test_every_detail_type_of_the_contract_has_a_sample_event() -> None:
    seen = {json.loads(f.read_text()).get("detail-type") for f in FILES if _is_bus_event(f)}

    assert set(CONTRACT) <= seen
