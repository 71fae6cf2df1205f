"""What a message says for each kind of event (acceptor.notify.message)."""

from __future__ import annotations

from notify_samples import (
    CONSUMER,
    DECIDE_ROLE,
    ENDPOINT,
    SERVICE,
    cloudtrail,
    decided,
    state_changed,
)

from acceptor.contract import DecidedDetail, StateChangedDetail
from acceptor.notify.message import (
    SUBJECT_LIMIT,
    Message,
    console_url,
    decision_message,
    override_message,
    state_change_message,
    subject,
)
from acceptor.override import OverrideAlert, assess


def items(message: Message) -> dict[str, str]:
    return {item.label: item.value for item in message.items}


def build(**overrides: object) -> Message:
    return decision_message(
        DecidedDetail.model_validate(decided(**overrides)),
        provider_region="us-east-1",
        account_name="payments-prod",
    )


def test_accepted_decision_names_service_account_vpc_rule_reason_and_action() -> None:
    message = build()

    shown = items(message)
    assert message.title == f"Accepted: {ENDPOINT} from {CONSUMER} (payments-prod) to {SERVICE}"
    assert message.severity == "success"
    assert shown["Service"] == SERVICE
    assert shown["Consumer account"] == f"{CONSUMER} (payments-prod)"
    assert shown["Consumer VPC"] == "vpc-0abc1234def567890"
    assert shown["Consumer region"] == "us-east-1"
    assert shown["Endpoint"] == ENDPOINT
    assert shown["Decision"] == "accept"
    assert shown["Rule"] == "payments-prod"
    assert shown["Reason"].startswith("rule payments-prod matched")
    assert shown["Missing facts"] == "none"
    assert shown["Action"] == "accept: succeeded"
    assert shown["State"] == "pendingAcceptance → pending"
    assert shown["Dry run"] == "no"
    assert message.actions == ("accept: succeeded",)
    assert message.console_url == (
        "https://us-east-1.console.aws.amazon.com/vpcconsole/home?region=us-east-1"
        f"#EndpointServiceDetails:endpointServiceId={SERVICE}"
    )


def test_account_without_known_name_shows_the_id_alone() -> None:
    message = decision_message(
        DecidedDetail.model_validate(decided()), provider_region="us-east-1", account_name=None
    )

    assert items(message)["Consumer account"] == CONSUMER


def test_dry_run_decision_says_would_and_marks_nothing_changed() -> None:
    message = build(dry_run=True, action={"type": "accept", "result": "dry-run", "error": None})

    assert message.title.startswith("Would accept (dry run):")
    assert message.dry_run
    assert items(message)["Dry run"] == "yes: nothing was changed"
    assert items(message)["Action"] == "accept: not done (dry run)"


def test_failed_action_is_an_alert_with_the_error() -> None:
    message = build(
        action={"type": "accept", "result": "failed", "error": "InvalidVpcEndpointId.NotFound"}
    )

    assert message.severity == "alert"
    assert message.title.startswith("Accept FAILED:")
    assert items(message)["Action"] == "accept: FAILED (InvalidVpcEndpointId.NotFound)"


def test_held_decision_lists_missing_facts_with_their_reasons() -> None:
    message = build(
        decision="hold",
        rule="no-sandboxes",
        missing_facts=["tags", "vpc_id"],
        unknown_reasons={"tags": "no consumer role configured"},
        action={"type": "none", "result": "skipped", "error": None},
        vpc_id=None,
        vpc_cidrs=None,
    )

    shown = items(message)
    assert message.severity == "warning"
    assert message.title.startswith("Held:")
    assert shown["Missing facts"] == "tags: no consumer role configured; vpc_id"
    assert shown["Consumer VPC"] == "unknown"
    assert shown["Action"] == "no action (nothing to change)"


def test_revocation_reported_is_worded_as_a_warning_not_a_rejection() -> None:
    message = build(
        decision="reject",
        origin="revocation",
        revocation="reported",
        action={"type": "none", "result": "skipped", "error": None},
    )

    assert message.title.startswith("Revocation reported (enforced on a later sweep):")
    assert items(message)["Requested by"] == "the sweep: revocation check"


def test_decision_dedup_key_is_stable_per_decision() -> None:
    first, again = build(), build()
    later = build(decided_at="2025-03-04T11:00:00Z")

    assert first.dedup_key == again.dedup_key
    assert first.dedup_key != later.dedup_key


def test_state_change_message_and_dedup_key_follow_the_notification() -> None:
    changed = StateChangedDetail.model_validate(state_changed())

    message = state_change_message(
        changed, provider_region="us-east-1", account_name=None, event_id="evt-1"
    )

    assert message.title == f"Endpoint deleted: {ENDPOINT} from {CONSUMER} to {SERVICE}"
    assert "is now deleted (Delete notification)" in message.summary
    assert message.dedup_key == f"state:{ENDPOINT}:deleted:0e1d2c3b-4a59-5867-9a0b-c1d2e3f40516"


def test_state_change_of_a_vanished_connection_says_so() -> None:
    changed = StateChangedDetail.model_validate(
        state_changed(service_id=None, found=False, state="deleted")
    )

    message = state_change_message(
        changed, provider_region="us-east-1", account_name=None, event_id="evt-1"
    )

    assert "AWS no longer lists the connection" in message.summary
    assert items(message)["Service"] == "unknown"
    assert message.console_url is not None
    assert message.console_url.endswith("#EndpointServices:")


def test_override_message_is_an_alert_naming_who_and_which_call() -> None:
    detail = cloudtrail()
    alert = assess(detail, is_managed={SERVICE}.__contains__, acceptor_role_arns=(DECIDE_ROLE,))
    assert isinstance(alert, OverrideAlert)

    message = override_message(
        alert, provider_region="us-east-1", detail_type="AWS API Call via CloudTrail", detail=detail
    )

    shown = items(message)
    assert message.severity == "alert"
    assert message.kind == "manual-override"
    assert message.title == f"Manual override: AcceptVpcEndpointConnections on {SERVICE}"
    assert "outside the acceptor" in message.summary
    assert shown["Endpoints"] == ENDPOINT
    assert shown["By"].endswith("/alice@example.com")
    assert shown["Result"] == "succeeded"
    assert message.dedup_key == "override:9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def test_failed_override_attempt_says_nothing_changed() -> None:
    detail = cloudtrail(errorCode="Client.UnauthorizedOperation")
    alert = assess(detail, is_managed={SERVICE}.__contains__, acceptor_role_arns=())
    assert isinstance(alert, OverrideAlert)

    message = override_message(
        alert, provider_region="us-east-1", detail_type="AWS API Call via CloudTrail", detail=detail
    )

    assert "nothing changed" in message.summary
    assert items(message)["Result"] == "failed: Client.UnauthorizedOperation"


def test_console_url_uses_the_partitions_console_host() -> None:
    assert console_url("cn-north-1", SERVICE) == (
        "https://console.amazonaws.cn/vpcconsole/home?region=cn-north-1"
        f"#EndpointServiceDetails:endpointServiceId={SERVICE}"
    )
    assert str(console_url("us-gov-west-1", SERVICE)).startswith(
        "https://console.amazonaws-us-gov.com/"
    )
    assert console_url(None, SERVICE) is None


def test_subject_is_one_ascii_line_under_the_sns_limit() -> None:
    line = subject("Accepted → " + "x" * 200 + "\nsecond line")

    assert len(line) <= SUBJECT_LIMIT
    assert line.isascii()
    assert "\n" not in line
    assert line.endswith("...")
