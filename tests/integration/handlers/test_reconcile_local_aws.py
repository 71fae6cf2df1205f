"""Reconcile against the local AWS: pagination, PutEvents batches, expired holds, and the
revocation two-step through Decide."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from handlers_stack import Stack

from acceptor.aws import ec2 as ec2_adapter
from acceptor.flows import wiring

HOLD_ALL = """\
version: 1
services: ["*"]
default: hold
hold: {expires_after: 72h}
"""

REVOKE_SANDBOXES = """\
version: 1
services: ["*"]
default: hold
revoke: true
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333"], tags: {env: prod}}
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
"""


def add_endpoints(stack: Stack, count: int) -> list[str]:
    """`count` more endpoints of the payments account to orders-api, each pending."""
    vpc = stack.aws.world.vpc("111122223333", "payments")
    service = stack.aws.world.services["orders-api"]
    ec2 = stack.aws.client("ec2", account="111122223333")
    return [
        ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc.id,
            ServiceName=service.service_name,
            SubnetIds=list(vpc.subnets.values()),
        )["VpcEndpoint"]["VpcEndpointId"]
        for _ in range(count)
    ]


def bodies(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(r["body"])["detail"] for r in records]


def test_sweep_pages_through_every_pending_connection_and_puts_batches_of_ten(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.policy(HOLD_ALL)
    monkeypatch.setattr(ec2_adapter, "PAGE_SIZE", 7)
    stack.aws.create_endpoints()
    added = add_endpoints(stack, 26)

    report = stack.reconcile("sweep-1")

    requested = bodies(stack.requested())
    assert report["requested"] == len(requested) == 26 + 5
    assert set(added) <= {r["endpoint_id"] for r in requested}
    assert {r["origin"] for r in requested} == {"sweep"}
    describes = [c for c in stack.calls if c.operation == "DescribeVpcEndpointConnections"]
    assert {c.params["MaxResults"] for c in describes} == {7}
    assert len(describes) >= 5, "30 pending of orders-api take at least 5 pages of 7"
    puts = [c for c in stack.calls if c.operation == "PutEvents"]
    assert all(len(c.params["Entries"]) <= 10 for c in puts)
    assert sum(len(c.params["Entries"]) for c in puts) == len(requested)
    assert len(puts) == 4, "30 events of orders-api in 3 calls, 1 of reports-api in 1"


def test_held_longer_than_expires_after_is_swept_as_expired_and_rejected(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.policy(HOLD_ALL)
    stack.aws.create_endpoints()
    stack.reconcile("sweep-1")
    stack.decide(stack.requested())
    partner = stack.aws.world.endpoints["partner-orders"].id
    assert stack.state(partner) == "pendingAcceptance"
    later = datetime.now(UTC) + timedelta(hours=73)
    monkeypatch.setattr(wiring, "utc_now", lambda: later)

    stack.reconcile("sweep-2")
    requested = stack.requested()
    stack.decide(requested)

    assert {r["origin"] for r in bodies(requested)} == {"hold-expired"}
    assert stack.state(partner) == "rejected"
    decided = [e["detail"] for e in stack.observed() if e["detail"]["endpoint_id"] == partner]
    assert decided[-1]["decision"] == "reject"
    assert "hold.expires_after (3d" in decided[-1]["reason"]


def test_revocation_is_reported_by_one_sweep_and_enforced_by_the_next(stack: Stack) -> None:
    stack.policy(REVOKE_SANDBOXES)
    stack.aws.create_endpoints()
    sandbox = stack.aws.world.endpoints["sandbox-orders"]
    stack.clients.ec2().accept_vpc_endpoint_connections(
        ServiceId=sandbox.service_id, VpcEndpointIds=[sandbox.id]
    )

    stack.reconcile("sweep-1")
    stack.decide(stack.requested())
    after_first = stack.state(sandbox.id)
    reported = [e["detail"] for e in stack.observed() if e["detail"]["endpoint_id"] == sandbox.id]
    stack.reconcile("sweep-2")
    stack.decide(stack.requested())

    assert after_first == "available"
    assert (reported[-1]["revocation"], reported[-1]["action"]["type"]) == ("reported", "none")
    assert stack.state(sandbox.id) == "rejected"
    enforced = [e["detail"] for e in stack.observed() if e["detail"]["endpoint_id"] == sandbox.id]
    assert (enforced[-1]["revocation"], enforced[-1]["action"]["result"]) == (
        "enforced",
        "succeeded",
    )
    payments = stack.aws.world.endpoints["payments-orders"].id
    assert stack.state(payments) == "available", "an allowed connection is never revoked"


def _notifications(stack: Stack) -> dict[str, tuple[str, list[str]]]:
    found = stack.clients.ec2().describe_vpc_endpoint_connection_notifications()
    return {
        n["ServiceId"]: (n["ConnectionNotificationArn"], sorted(n["ConnectionEvents"]))
        for n in found["ConnectionNotificationSet"]
    }


def _tag(stack: Stack, service: str, value: str) -> None:
    stack.clients.ec2().create_tags(
        Resources=[stack.aws.world.services[service].id],
        Tags=[{"Key": "privatelink-acceptor:managed", "Value": value}],
    )


def test_a_service_tagged_at_run_time_is_notified_and_swept_by_the_next_sweep(
    stack: Stack,
) -> None:
    # Given the world's topic stands for the stack's, and status-api is untagged
    stack.policy(HOLD_ALL)
    stack.environment(MANAGED_SERVICE_IDS="")
    status = stack.aws.world.services["status-api"].id
    before = stack.reconcile("sweep-1")
    # When the provider tags it
    _tag(stack, "status-api", "true")
    after = stack.reconcile("sweep-2")

    # Then the next sweep manages it and gives it the stack's notification
    assert status in before["unmanaged"]
    assert status in after["services"]
    assert after["notifications_created"] == [status]
    events = ["Accept", "Connect", "Delete", "Reject"]
    assert _notifications(stack)[status] == (stack.connection_topic, events)


def test_a_service_whose_tag_says_false_loses_the_acceptors_notification_only(
    stack: Stack,
) -> None:
    stack.policy(HOLD_ALL)
    stack.environment(MANAGED_SERVICE_IDS="")
    reports = stack.aws.world.services["reports-api"].id
    other_topic = stack.clients.client("sns").create_topic(Name="another-team")["TopicArn"]
    stack.clients.ec2().create_vpc_endpoint_connection_notification(
        ServiceId=reports, ConnectionNotificationArn=other_topic, ConnectionEvents=["Connect"]
    )

    _tag(stack, "reports-api", "false")
    report = stack.reconcile("sweep-after-leaving")
    again = stack.reconcile("sweep-again")

    assert report["notifications_removed"] == [reports]
    assert reports in report["unmanaged"]
    assert _notifications(stack)[reports] == (other_topic, ["Connect"])
    assert again["notifications_removed"] == again["notifications_created"] == []
