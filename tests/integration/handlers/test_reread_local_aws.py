"""Re-reading one connection on the local AWS, with the `vpc-endpoint-id` filter working and
refused (docs/events.md, "Re-reading a connection"), and Ingest given a wrong service ID."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from handlers_stack import Stack

from acceptor.aws import ec2 as ec2_module
from acceptor.aws.ec2 import ProviderEc2
from acceptor_tools.local_aws import LocalAws
from acceptor_tools.local_aws.notifications import SHAPES, NotificationEvent

ORDERS = "vpce-svc-0a1b2c3d4e5f67890"
REPORTS = "vpce-svc-0b2c3d4e5f6a78901"
FILTER_PATHS = pytest.mark.parametrize("refused", [False, True], ids=["filtered", "refused"])


def provider(aws: LocalAws, refused: bool) -> ProviderEc2:
    aws.set_refused_filters(["vpc-endpoint-id"] if refused else [])
    return ProviderEc2(aws.client("ec2"), "us-east-1")


@FILTER_PATHS
def test_a_connection_is_reread_by_its_service_on_both_paths(
    local_aws: LocalAws, refused: bool
) -> None:
    ids = {e.name: e.id for e in local_aws.create_endpoints()}
    ec2 = provider(local_aws, refused)

    found = ec2.connections(ORDERS, [ids["payments-orders"], ids["payments-reports"]])

    assert set(found) == {ids["payments-orders"]}, "a connection of another service is not it"
    assert found[ids["payments-orders"]].account == "111122223333"
    assert ec2.endpoint_filter_refused is refused


@FILTER_PATHS
def test_find_looks_through_several_services_and_the_whole_account(
    local_aws: LocalAws, refused: bool
) -> None:
    ids = {e.name: e.id for e in local_aws.create_endpoints()}
    ec2 = provider(local_aws, refused)
    wanted = [ids["payments-orders"], ids["payments-reports"], ids["payments-status"]]

    assert set(ec2.find(wanted, [ORDERS, REPORTS])) == set(wanted[:2])
    assert set(ec2.find(wanted, None)) == set(wanted)
    assert ec2.find(wanted, []) == {}


def test_the_fallback_walks_every_page(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {e.name: e.id for e in local_aws.create_endpoints()}
    monkeypatch.setattr(ec2_module, "PAGE_SIZE", 5)  # six connections: two pages
    ec2 = provider(local_aws, refused=True)

    found = ec2.find(list(ids.values()), None)

    assert set(found) == set(ids.values())


def _naming(service_id: str) -> Any:
    """A message shape that names `service_id` instead of the connection's own."""

    def shape(event: NotificationEvent) -> str:
        return SHAPES["default"](dataclasses.replace(event, service_id=service_id))

    return shape


@FILTER_PATHS
def test_a_connect_naming_a_wrong_service_is_still_requested(stack: Stack, refused: bool) -> None:
    stack.aws.set_notification_shape(_naming(REPORTS))
    stack.aws.create_endpoints(["payments-orders"])
    notifications = stack.notifications()
    stack.aws.set_refused_filters(["vpc-endpoint-id"] if refused else [])

    stack.ingest(notifications)

    (request,) = [json.loads(r["body"])["detail"] for r in stack.requested()]
    assert (request["endpoint_id"], request["service_id"]) == (
        stack.aws.world.endpoints["payments-orders"].id,
        ORDERS,
    )


@FILTER_PATHS
def test_a_delete_naming_a_wrong_service_of_a_live_connection_is_not_deleted(
    stack: Stack, refused: bool
) -> None:
    stack.aws.set_notification_shape(_naming(REPORTS))
    stack.aws.create_endpoints(["payments-orders"])
    notifications = stack.notifications()
    (record,) = notifications["Records"]
    message = json.loads(record["Sns"]["Message"])
    record["Sns"]["Message"] = json.dumps(
        {**message, "eventType": "Delete", "endpointState": "deleted"}
    )
    stack.aws.set_refused_filters(["vpc-endpoint-id"] if refused else [])

    stack.ingest(notifications)

    assert stack.observed() == [], "no State Changed, so no 'deleted'"
    (request,) = [json.loads(r["body"])["detail"] for r in stack.requested()]
    assert (request["service_id"], request["state"]) == (ORDERS, "pendingAcceptance")
