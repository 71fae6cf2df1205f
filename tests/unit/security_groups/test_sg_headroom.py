"""The rule headroom of each provider group (docs/operations.md, "Alarms"): one metric per
provider group an event touched, with its `GroupId`, which the Metrics Insights alarm groups by."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acceptor.flows import security_groups as flow
from acceptor.flows.telemetry import metrics
from acceptor.security_groups.model import GroupOutcome, Report


def outcome(group_id: str, rules_used: int | None, side: Any = "provider") -> GroupOutcome:
    return GroupOutcome(
        side=side, group_id=group_id, owner_account="1", status="added", rules_used=rules_used
    )


def report(*groups: GroupOutcome) -> Report:
    return Report(
        operation="add",
        endpoint_id="vpce-0a1b2c3d4e5f60718",
        service_id="vpce-svc-0a1b2c3d4e5f67890",
        account="111122223333",
        region="eu-west-1",
        dry_run=False,
        trigger="accept",
        groups=groups,
    )


def headroom_metrics(output: str) -> dict[str, tuple[float, list[list[str]]]]:
    """GroupId -> (headroom, dimension sets) of each ProviderGroupRuleHeadroom EMF line."""
    found: dict[str, tuple[float, list[list[str]]]] = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        blob = json.loads(line)
        (directive,) = blob.get("_aws", {}).get("CloudWatchMetrics", [{}])
        names = [m["Name"] for m in directive.get("Metrics", [])]
        if flow.HEADROOM in names:
            assert directive["Namespace"] == "PrivateLinkAcceptor"
            (value,) = (
                blob[flow.HEADROOM]
                if isinstance(blob[flow.HEADROOM], list)
                else [blob[flow.HEADROOM]]
            )
            found[blob["GroupId"]] = (value, directive["Dimensions"])
    return found


def test_each_provider_group_touched_reports_its_own_headroom(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flow._count(
        report(
            outcome("sg-0aaaaaaaaaaaaaaa1", 12),
            outcome("sg-0bbbbbbbbbbbbbbb1", 55),
            outcome("sg-0ccccccccccccccc1", 3, side="consumer_endpoint"),
        )
    )

    found = headroom_metrics(capsys.readouterr().out)
    assert {group: value for group, (value, _) in found.items()} == {
        "sg-0aaaaaaaaaaaaaaa1": 48.0,
        "sg-0bbbbbbbbbbbbbbb1": 5.0,
    }
    for _, dimensions in found.values():
        assert dimensions == [["GroupId", "service"]]


def test_a_group_without_a_rule_count_reports_no_headroom(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flow._count(report(outcome("sg-0aaaaaaaaaaaaaaa1", None)))

    assert headroom_metrics(capsys.readouterr().out) == {}


def test_the_headroom_never_joins_the_batch_without_a_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics.clear_metrics()
    flow._count(report(outcome("sg-0aaaaaaaaaaaaaaa1", 20)))
    metrics.flush_metrics()

    batch = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "GroupId" not in line
    ]
    assert batch, "the other counts are flushed as usual"
    assert all(flow.HEADROOM not in blob for blob in batch)
