"""The bus contract models (docs/events.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from acceptor.contract import (
    DETAIL_MODELS,
    SOURCE,
    Action,
    DecidedDetail,
    DetailType,
    RequestedDetail,
    RequestedEvent,
    SecurityGroupsUpdatedDetail,
    StateChangedDetail,
    decided,
    requested,
    security_groups_updated,
    state_changed,
)

pytestmark = pytest.mark.disable_socket


def requested_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": "1",
        "service_id": "vpce-svc-0a1b2c3d4e5f67890",
        "endpoint_id": "vpce-0a1b2c3d4e5f60718",
        "account": "111122223333",
        "region": "us-east-1",
        "state": "pendingAcceptance",
        "created_at": "2025-03-04T09:59:58Z",
        "origin": "notification",
        "correlation_id": "5a6f0c1e",
    }
    data.update(overrides)
    return data


def decided_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        **{k: v for k, v in requested_data().items() if k not in ("state",)},
        "decision": "hold",
        "rule": None,
        "reason": "No rule matched, so the default of policies/acceptor.yaml applies: hold.",
        "missing_facts": ["tags"],
        "rules": [],
        "policy_hash": "3f2a9c0d1e4b5a67",
        "dry_run": False,
        "action": {"type": "none", "result": "skipped", "error": None},
        "state_before": "pendingAcceptance",
        "state_after": "pendingAcceptance",
        "security_groups": None,
        "notify": [],
        "vpc_id": None,
        "vpc_cidrs": None,
        "decided_at": "2025-03-04T10:00:01.204Z",
    }
    data.update(overrides)
    return data


def security_groups_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": "1",
        "service_id": "vpce-svc-0a1b2c3d4e5f67890",
        "endpoint_id": "vpce-0a1b2c3d4e5f60718",
        "account": "111122223333",
        "region": "us-east-1",
        "operation": "add",
        "trigger": "accept",
        "dry_run": False,
        "changed": True,
        "cidrs": ["10.10.0.0/16"],
        "cidrs_from": "consumer-role",
        "groups": [
            {
                "side": "consumer_endpoint",
                "group_id": "sg-0a1b2c3d4e5f60718",
                "owner_account": "111122223333",
                "status": "added",
                "added": [
                    {"protocol": "tcp", "port": 443, "cidr": "10.10.0.0/16", "rule_id": "sgr-1"}
                ],
                "present": [],
                "removed": [],
                "shared_with": [],
                "reason": None,
            }
        ],
        "warnings": [],
        "updated_at": "2025-03-04T10:00:03.5Z",
        "correlation_id": "5a6f0c1e",
    }
    data.update(overrides)
    return data


def test_entry_has_source_detail_type_bus_and_compact_json_detail() -> None:
    detail = RequestedDetail.model_validate(requested_data())

    entry = requested(detail).entry("my-bus")

    assert entry["Source"] == SOURCE == "privatelink-acceptor"
    assert entry["DetailType"] == "Endpoint Connection Requested"
    assert entry["EventBusName"] == "my-bus"
    assert json.loads(entry["Detail"]) == {**requested_data(), "created_at": "2025-03-04T09:59:58Z"}


def test_every_detail_type_has_its_model_and_constructor() -> None:
    built = {
        requested(RequestedDetail.model_validate(requested_data())).detail_type,
        decided(DecidedDetail.model_validate(decided_data())).detail_type,
        state_changed(
            StateChangedDetail(
                service_id=None,
                endpoint_id="vpce-0a1b2c3d4e5f60718",
                account=None,
                region=None,
                state="deleted",
                event_type="Delete",
                found=False,
                correlation_id="c",
            )
        ).detail_type,
        security_groups_updated(
            SecurityGroupsUpdatedDetail.model_validate(security_groups_data())
        ).detail_type,
    }

    assert built == set(DetailType) == set(DETAIL_MODELS)


def test_security_groups_updated_round_trips_and_carries_its_resources() -> None:
    detail = SecurityGroupsUpdatedDetail.model_validate(security_groups_data())
    group_arn = "arn:aws:ec2:us-east-1:999988887777:security-group/sg-0123456789abcdef0"

    entry = security_groups_updated(detail, (group_arn,)).entry("my-bus")

    assert entry["DetailType"] == "Endpoint Connection Security Groups Updated"
    assert entry["Resources"] == [group_arn]
    assert json.loads(entry["Detail"]) == {
        **security_groups_data(),
        "updated_at": "2025-03-04T10:00:03.500000Z",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("operation", "open"), ("cidrs_from", "guess"), ("endpoint_id", "vpc-0a1b2c3d")],
)
def test_security_groups_updated_refuses_a_bad_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        SecurityGroupsUpdatedDetail.model_validate(security_groups_data(**{field: value}))


def test_reader_ignores_fields_it_does_not_know() -> None:
    detail = RequestedDetail.model_validate(requested_data(added_in_a_later_release="x"))

    assert "added_in_a_later_release" not in detail.model_dump()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "2"),
        ("service_id", "svc-123"),
        ("endpoint_id", "vpce-svc-0a1b2c3d4e5f67890"),
        ("account", "1111"),
        ("origin", "manual"),
        ("created_at", "2025-03-04T09:59:58"),
    ],
)
def test_requested_detail_refuses_a_bad_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        RequestedDetail.model_validate(requested_data(**{field: value}))


def test_times_are_normalised_to_utc() -> None:
    detail = RequestedDetail.model_validate(requested_data(created_at="2025-03-04T11:59:58+02:00"))

    assert detail.created_at == datetime(2025, 3, 4, 9, 59, 58, tzinfo=UTC)


def test_decided_detail_round_trips_through_json() -> None:
    detail = DecidedDetail.model_validate(
        decided_data(action={"type": "accept", "result": "dry-run"}, dry_run=True)
    )

    again = DecidedDetail.model_validate_json(json.dumps(detail.model_dump(mode="json")))

    assert again == detail
    assert again.action == Action(type="accept", result="dry-run")


def test_decided_detail_refuses_an_unknown_action_result() -> None:
    with pytest.raises(ValidationError):
        DecidedDetail.model_validate(decided_data(action={"type": "accept", "result": "maybe"}))


def test_requested_event_envelope_refuses_another_source() -> None:
    envelope = {
        "version": "0",
        "id": "e1",
        "detail-type": "Endpoint Connection Requested",
        "source": "someone-else",
        "account": "999988887777",
        "time": "2025-03-04T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": requested_data(),
    }

    with pytest.raises(ValidationError):
        RequestedEvent.model_validate(envelope)
    envelope["source"] = "privatelink-acceptor"
    assert RequestedEvent.model_validate(envelope).detail.endpoint_id == "vpce-0a1b2c3d4e5f60718"
