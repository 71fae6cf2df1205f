"""Security-group warnings: read from the detail SecurityGroupsFunction writes (its own Report
model), notified only when a person must act (acceptor.notify.groups and dispatch)."""

from __future__ import annotations

from typing import Any

from notify_samples import CONSUMER, ENDPOINT, SERVICE, envelope, orders_policy

from acceptor.notify.dispatch import Inputs, plan
from acceptor.notify.events import Envelope
from acceptor.security_groups.model import FINDINGS, Finding, GroupOutcome, Report

UPDATED = "Endpoint Connection Security Groups Updated"


def report_detail(*, groups: tuple[GroupOutcome, ...], findings: tuple[Finding, ...]) -> Any:
    report = Report(
        operation="add",
        endpoint_id=ENDPOINT,
        service_id=SERVICE,
        account=CONSUMER,
        region="us-east-1",
        dry_run=False,
        trigger="Endpoint Connection Decided: accept",
        groups=groups,
        findings=findings,
        cidrs=("10.10.0.0/16",),
        cidrs_from="consumer-role",
    )
    return report.to_detail(
        correlation_id="5a6f0c1e-7d55-5c4f-9a0e-1e6f3c2b9d11",
        updated_at="2025-03-04T10:00:05Z",
    )


def planned(detail: Any) -> Any:
    loaded = orders_policy()
    return plan(
        Envelope.model_validate(envelope(UPDATED, detail)),
        Inputs(policy=lambda: loaded, account_name=lambda _account: "payments-prod"),
    )


def test_shared_group_left_untouched_is_notified_as_a_warning() -> None:
    detail = report_detail(
        groups=(
            GroupOutcome(
                side="consumer_endpoint",
                group_id="sg-0aaaaaaaaaaaaaaaa",
                owner_account=CONSUMER,
                status="skipped",
                shared_with=("eni-0123456789abcdef0",),
                reason="shared",
            ),
        ),
        findings=(
            Finding(
                "shared-group",
                FINDINGS["shared-group"],
                group_id="sg-0aaaaaaaaaaaaaaaa",
                side="consumer_endpoint",
            ),
        ),
    )

    result = planned(detail)

    message = result.message
    assert message is not None
    assert message.severity == "warning"
    assert message.title == f"Security groups need attention: {ENDPOINT} to {SERVICE}"
    assert "may not work: the group is used by other network interfaces" in message.summary
    lines = [item.value for item in message.items if item.label == "Group"]
    assert lines == [
        "consumer endpoint sg-0aaaaaaaaaaaaaaaa: left untouched; "
        "shared with eni-0123456789abcdef0; shared"
    ]
    assert sorted(t.name for t in result.targets) == ["audit", "ops"]


def test_failed_group_change_is_an_alert() -> None:
    detail = report_detail(
        groups=(
            GroupOutcome(
                side="provider",
                group_id="sg-0bbbbbbbbbbbbbbbb",
                owner_account="999988887777",
                status="failed",
                reason="access-denied",
            ),
        ),
        findings=(),
    )

    message = planned(detail).message

    assert message is not None
    assert message.severity == "alert"
    assert message.title.startswith("Security group change FAILED:")


def test_update_without_warnings_is_not_notified() -> None:
    detail = report_detail(
        groups=(
            GroupOutcome(
                side="consumer_endpoint",
                group_id="sg-0aaaaaaaaaaaaaaaa",
                owner_account=CONSUMER,
                status="added",
            ),
        ),
        findings=(),
    )

    result = planned(detail)

    assert result.message is None
    assert result.ignored == "the security groups were updated without warnings"
