"""Manual-override alerts and account names, end to end on the local AWS."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from notify_world import (
    AUDIT_PATH,
    REGION,
    SERVICE,
    SLACK_PATH,
    UNMANAGED_SERVICE,
    NotifyWorld,
    event_file,
    slack_fields,
)

from acceptor.flows import wiring
from acceptor.flows.notify import MissingIdempotencyTable
from acceptor.handlers.notify import handler
from helpers.aws import LambdaContext

pytestmark = pytest.mark.integration


def test_accept_by_another_principal_alerts_every_governing_channel_and_the_stack_topic(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    result = handler(event_file("cloudtrail-accept-by-console-user.json"), lambda_context)

    # ops (orders.yaml), audit and people (audit.yaml: `people` is the stack topic already).
    assert sorted(result["sent"]) == ["audit", "ops", "people"]
    (slack,) = notify_world.capture.bodies(SLACK_PATH)
    assert slack["blocks"][0]["text"]["text"] == (
        f":rotating_light: Manual override: AcceptVpcEndpointConnections on {SERVICE}"
    )
    assert "outside the acceptor" in slack["text"]
    (hook,) = notify_world.capture.bodies(AUDIT_PATH)
    assert hook["kind"] == "manual-override"
    assert hook["detail"]["eventName"] == "AcceptVpcEndpointConnections"
    (sns,) = notify_world.sns_messages(expected=1)
    assert sns["Subject"] == f"Manual override: AcceptVpcEndpointConnections on {SERVICE}"
    assert "By:" in sns["Message"]
    assert "alice@example.com" in sns["Message"]
    assert sns["MessageAttributes"]["severity"]["Value"] == "alert"


def test_accept_by_the_acceptors_role_does_not_alert(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    result = handler(event_file("cloudtrail-accept-by-acceptor.json"), lambda_context)

    assert result == {"status": "ignored", "reason": "the call was made by the acceptor's own role"}
    assert notify_world.capture.requests == []
    assert notify_world.sns_messages(expected=1, timeout=0.3) == []


def test_override_on_an_unmanaged_service_is_ignored(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    event = event_file("cloudtrail-accept-by-console-user.json")
    request = event["detail"]["requestParameters"]["AcceptVpcEndpointConnectionsRequest"]
    request["ServiceId"] = UNMANAGED_SERVICE

    result = handler(event, lambda_context)

    assert result == {
        "status": "ignored",
        "reason": f"{UNMANAGED_SERVICE} is not managed by the acceptor",
    }
    assert notify_world.capture.requests == []


def test_override_without_any_file_channel_still_reaches_the_stack_topic(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    (notify_world.policy_dir / "audit.yaml").unlink()
    event = event_file("cloudtrail-modify-permissions-by-console-user.json")
    orders = (notify_world.policy_dir / "orders.yaml").read_text()
    (notify_world.policy_dir / "orders.yaml").write_text(orders.replace("notify:\n- ops\n", ""))

    result = handler(event, lambda_context)

    assert result["sent"] == ["stack-topic"]
    (sns,) = notify_world.sns_messages(expected=1)
    lines = sns["Message"].splitlines()
    assert any(
        line.startswith("Principals added:") and line.endswith(" arn:aws:iam::777788889999:root")
        for line in lines
    )


def test_duplicate_cloudtrail_delivery_alerts_once(
    notify_world: NotifyWorld, lambda_context: LambdaContext
) -> None:
    event = event_file("cloudtrail-accept-by-console-user.json")

    handler(event, lambda_context)
    again = handler(copy.deepcopy(event), lambda_context)

    assert again["sent"] == []
    assert len(notify_world.capture.bodies(SLACK_PATH)) == 1
    assert len(notify_world.sns_messages(expected=2, timeout=0.5)) == 1


def test_account_name_from_organizations_is_shown_when_access_is_on(
    notify_world: NotifyWorld, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    created = organizations.create_account(AccountName="payments-prod", Email="p@example.com")
    account = created["CreateAccountStatus"]["AccountId"]
    monkeypatch.setenv("ORGANIZATIONS_ACCESS", "true")
    event: dict[str, Any] = event_file("notify-decided-accept.json")
    event["detail"]["account"] = account

    handler(event, lambda_context)

    (slack,) = notify_world.capture.bodies(SLACK_PATH)
    assert slack_fields(slack)["Consumer account"] == f"{account} (payments-prod)"


def test_account_name_lookup_failure_notifies_with_the_id_alone(
    notify_world: NotifyWorld, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No organization exists in this local AWS: DescribeAccount fails.
    monkeypatch.setenv("ORGANIZATIONS_ACCESS", "true")

    result = handler(event_file("notify-decided-accept.json"), lambda_context)

    assert result["sent"] == ["ops", "payments-team"]
    (slack,) = notify_world.capture.bodies(SLACK_PATH)
    assert slack_fields(slack)["Consumer account"] == "111122223333"


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_idempotency_table_refuses_to_notify(
    notify_world: NotifyWorld, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE")
    wiring.notify_deps.cache_clear()

    with pytest.raises(MissingIdempotencyTable):
        handler(event_file("notify-decided-accept.json"), lambda_context)

    assert notify_world.capture.requests == []
