"""NotifyFunction end to end on the local AWS: real HTTP posts to a capture server, URLs from
Secrets Manager and SSM, SNS into a subscribed SQS queue, de-duplication in DynamoDB."""

from __future__ import annotations

import copy
import io
from typing import Any

import boto3
import pytest
from notify_world import (
    AUDIT_PATH,
    REGION,
    SECRET_TOKENS,
    SERVICE,
    SLACK_PATH,
    TEAMS_PATH,
    NotifyWorld,
    event_file,
    slack_fields,
)

from acceptor.aws.clients import default_clients
from acceptor.handlers.notify import handler
from acceptor.notify.errors import DeliveryFailed
from acceptor.security_groups.model import FINDINGS, Finding, GroupOutcome, GroupStatus, Report
from helpers.aws import LambdaContext

pytestmark = pytest.mark.integration


def decided_accept() -> dict[str, Any]:
    return event_file("notify-decided-accept.json")


def test_decision_posts_block_kit_to_slack_and_an_adaptive_card_to_teams(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    result = handler(decided_accept(), lambda_context)

    assert result == {"status": "delivered", "sent": ["ops", "payments-team"], "already_sent": []}
    (slack,) = notify_world.capture.bodies(SLACK_PATH)
    assert slack["blocks"][0]["type"] == "header"
    assert "Accepted: vpce-0a1b2c3d4e5f60718" in slack["blocks"][0]["text"]["text"]
    fields = slack_fields(slack)
    assert fields["Service"] == SERVICE
    assert fields["Rule"] == "payments-prod"
    assert fields["Consumer VPC"] == "vpc-0abc1234def567890"
    (teams,) = notify_world.capture.bodies(TEAMS_PATH)
    assert teams["type"] == "message"
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Decision", "value": "accept"} in facts
    headers = notify_world.capture.requests[0].headers
    assert headers["Content-Type"].startswith("application/json")


def test_state_change_posts_detail_to_the_webhook_and_publishes_text_to_sns(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    result = handler(event_file("notify-state-changed-deleted.json"), lambda_context)

    assert sorted(result["sent"]) == ["audit", "ops", "people"]
    (hook,) = notify_world.capture.bodies(AUDIT_PATH)
    assert hook["detail-type"] == "Endpoint Connection State Changed"
    assert hook["detail"]["state"] == "deleted"
    assert hook["summary"]["title"].startswith("Endpoint deleted: vpce-0a1b2c3d4e5f60718")
    (sns,) = notify_world.sns_messages(expected=1)
    assert sns["Subject"] == "Endpoint deleted: vpce-0a1b2c3d4e5f60718"
    assert "is now deleted (Delete notification)" in sns["Message"]
    assert f"Service:          {SERVICE}" in sns["Message"]
    assert sns["MessageAttributes"]["kind"]["Value"] == "state-change"
    assert sns["MessageAttributes"]["service_id"]["Value"] == SERVICE


def test_dry_run_decision_is_notified_with_its_marker(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    handler(event_file("notify-decided-reject-dry-run.json"), lambda_context)

    (slack,) = notify_world.capture.bodies(SLACK_PATH)
    assert slack["blocks"][0]["text"]["text"].endswith(
        "Would reject (dry run): vpce-0d4e5f6a7b8c90123 from 444455556666 to "
        "vpce-svc-0a1b2c3d4e5f67890"
    )
    assert "DRY RUN: nothing was changed" in str(slack["blocks"])


def test_duplicate_event_posts_once(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    event = decided_accept()

    first = handler(event, lambda_context)
    second = handler(copy.deepcopy(event), lambda_context)

    assert first["sent"] == ["ops", "payments-team"]
    assert second == {
        "status": "delivered",
        "sent": [],
        "already_sent": ["ops", "payments-team"],
    }
    assert len(notify_world.capture.bodies(SLACK_PATH)) == 1
    assert len(notify_world.capture.bodies(TEAMS_PATH)) == 1


def test_server_error_raises_and_the_retry_posts_only_the_failed_channel(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    notify_world.capture.answers[TEAMS_PATH] = (500, "internal error", 0.0)

    with pytest.raises(DeliveryFailed) as raised:
        handler(decided_accept(), lambda_context)

    assert raised.value.sent == ("ops",)
    assert raised.value.failures == (
        ("payments-team", "the webhook answered HTTP 500: internal error"),
    )
    del notify_world.capture.answers[TEAMS_PATH]

    retried = handler(decided_accept(), lambda_context)

    assert retried["sent"] == ["payments-team"]
    assert retried["already_sent"] == ["ops"]
    assert len(notify_world.capture.bodies(SLACK_PATH)) == 1
    assert len(notify_world.capture.bodies(TEAMS_PATH)) == 2  # the failed post, then the retry


def test_redirect_is_a_failure_not_a_delivery(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    notify_world.capture.answers[SLACK_PATH] = (302, "", 0.0)

    with pytest.raises(DeliveryFailed, match="HTTP 302"):
        handler(decided_accept(), lambda_context)

    assert notify_world.capture.bodies("/elsewhere") == []


def test_slow_webhook_times_out_and_fails_that_channel(
    notify_world: NotifyWorld, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "0.3")
    notify_world.capture.answers[SLACK_PATH] = (200, "ok", 1.0)

    with pytest.raises(DeliveryFailed) as raised:
        handler(decided_accept(), lambda_context)

    (failure,) = raised.value.failures
    assert failure[0] == "ops"
    assert "did not answer within 0.3 seconds" in failure[1] or "timed out" in failure[1]
    assert raised.value.sent == ("payments-team",)


def test_missing_parameter_fails_its_channel_naming_the_parameter(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    boto3.client("ssm", region_name=REGION).delete_parameter(
        Name="/privatelink-acceptor/teams-payments"
    )

    with pytest.raises(DeliveryFailed) as raised:
        handler(decided_accept(), lambda_context)

    assert raised.value.failures == (
        (
            "payments-team",
            "parameter '/privatelink-acceptor/teams-payments' does not exist (ParameterNotFound)",
        ),
    )
    assert len(notify_world.capture.bodies(SLACK_PATH)) == 1


def test_webhook_url_is_read_once_and_then_served_from_the_cache(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    reads: list[str] = []
    client = default_clients().client("secretsmanager")
    client.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **_: reads.append(params["SecretId"]),
    )
    hold = event_file("notify-decided-hold.json")

    handler(decided_accept(), lambda_context)
    handler(hold, lambda_context)

    assert reads == ["privatelink-acceptor/slack-ops"]
    assert len(notify_world.capture.bodies(SLACK_PATH)) == 2


def test_logs_never_contain_a_webhook_url(
    notify_world: NotifyWorld,
    lambda_context: LambdaContext,
    function_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    handler(decided_accept(), lambda_context)
    notify_world.capture.answers[AUDIT_PATH] = (404, f"no hook at {AUDIT_PATH}", 0.0)
    with pytest.raises(DeliveryFailed) as raised:
        handler(event_file("notify-state-changed-deleted.json"), lambda_context)

    written = function_logs.getvalue()
    captured = capsys.readouterr()
    everything = "\n".join([written, caplog.text, captured.out, captured.err, str(raised.value)])
    assert '"Notified"' in written
    assert "Notification failed on some channels" in written
    assert "no hook at <redacted>" in str(raised.value)
    for token in SECRET_TOKENS:
        assert token not in everything
    assert notify_world.capture.base_url not in everything


def test_security_group_warning_is_posted_and_a_clean_update_is_not(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    def updated(findings: tuple[Finding, ...], status: GroupStatus) -> dict[str, Any]:
        report = Report(
            operation="add",
            endpoint_id="vpce-0a1b2c3d4e5f60718",
            service_id=SERVICE,
            account="111122223333",
            region=REGION,
            dry_run=False,
            trigger="Endpoint Connection Decided: accept",
            groups=(
                GroupOutcome(
                    side="provider",
                    group_id="sg-0123456789abcdef0",
                    owner_account="999988887777",
                    status=status,
                ),
            ),
            findings=findings,
        )
        event = event_file("notify-state-changed-deleted.json")
        event["detail-type"] = "Endpoint Connection Security Groups Updated"
        event["detail"] = report.to_detail(correlation_id="c-1", updated_at="2025-03-04T10:00:06Z")
        return event

    clean = handler(updated((), "added"), lambda_context)
    warned = handler(
        updated(
            (Finding("nlb-enforces-unknown-cidrs", FINDINGS["nlb-enforces-unknown-cidrs"]),),
            "skipped",
        ),
        lambda_context,
    )

    assert clean["status"] == "ignored"
    assert sorted(warned["sent"]) == ["audit", "ops", "people"]
    (slack,) = notify_world.capture.bodies(SLACK_PATH)
    assert "Security groups need attention" in slack["blocks"][0]["text"]["text"]
    assert "the NLB filters PrivateLink traffic by client IP" in slack["text"]
