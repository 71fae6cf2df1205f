"""AcceptVpcEndpointConnections / RejectVpcEndpointConnections: moves, and what cannot move."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_aws_helpers import ORDERS_SERVICE, PAYMENTS, REPORTS_SERVICE, WAIT_SECONDS

from acceptor_tools.local_aws import LocalAws

pytestmark = pytest.mark.disable_socket


def _states(ec2: Any) -> dict[str, str]:
    return {
        c["VpcEndpointId"]: c["VpcEndpointState"]
        for c in ec2.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    }


def _consumer_state(aws: LocalAws, endpoint_id: str) -> str:
    (endpoint,) = aws.client("ec2", PAYMENTS).describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])[
        "VpcEndpoints"
    ]
    state: str = endpoint["State"]
    return state


def _errors(result: dict[str, Any]) -> dict[str, str]:
    return {item["ResourceId"]: item["Error"]["Code"] for item in result["Unsuccessful"]}


@pytest.fixture
def endpoints(local_aws: LocalAws) -> dict[str, str]:
    return {e.name: e.id for e in local_aws.create_endpoints()}


def test_accept_makes_pending_connections_available_on_both_sides(
    local_aws: LocalAws, provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    wanted = [endpoints["payments-orders"], endpoints["sandbox-orders"]]

    result = provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=wanted
    )

    assert result["Unsuccessful"] == []
    states = _states(provider_ec2)
    assert [states[i] for i in wanted] == ["available", "available"]
    assert states[endpoints["partner-orders"]] == "pendingAcceptance"
    assert _consumer_state(local_aws, endpoints["payments-orders"]) == "available"


def test_accept_reports_each_endpoint_that_cannot_move_and_moves_the_rest(
    provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["sandbox-orders"]]
    )
    unknown = "vpce-0ffffffffffffffff"

    result = provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE,
        VpcEndpointIds=[
            unknown,
            endpoints["sandbox-orders"],  # already available
            endpoints["payments-reports"],  # connected to another service
            endpoints["partner-orders"],  # the one that can move
        ],
    )

    assert _errors(result) == {
        unknown: "InvalidVpcEndpointId.NotFound",
        endpoints["sandbox-orders"]: "InvalidState",
        endpoints["payments-reports"]: "InvalidVpcEndpointId.NotFound",
    }
    assert all(item["Error"]["Message"] for item in result["Unsuccessful"])
    assert _states(provider_ec2)[endpoints["partner-orders"]] == "available"
    assert _states(provider_ec2)[endpoints["payments-reports"]] == "pendingAcceptance"


def test_reject_moves_pending_and_available_connections_to_rejected(
    local_aws: LocalAws, provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["payments-orders"]]
    )

    result = provider_ec2.reject_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE,
        VpcEndpointIds=[endpoints["payments-orders"], endpoints["sandbox-orders"]],
    )

    assert result["Unsuccessful"] == []
    states = _states(provider_ec2)
    assert states[endpoints["payments-orders"]] == "rejected"
    assert states[endpoints["sandbox-orders"]] == "rejected"
    assert _consumer_state(local_aws, endpoints["payments-orders"]) == "rejected"


def test_rejected_connection_can_be_neither_accepted_nor_rejected_again(
    provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    target = [endpoints["sandbox-orders"]]
    provider_ec2.reject_vpc_endpoint_connections(ServiceId=ORDERS_SERVICE, VpcEndpointIds=target)

    accepted = provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=target
    )
    rejected = provider_ec2.reject_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=target
    )

    assert _errors(accepted) == {target[0]: "InvalidState"}
    assert _errors(rejected) == {target[0]: "InvalidState"}


def test_deleted_connection_cannot_be_accepted(
    local_aws: LocalAws, provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    local_aws.client("ec2", PAYMENTS).delete_vpc_endpoints(
        VpcEndpointIds=[endpoints["payments-orders"]]
    )

    result = provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["payments-orders"]]
    )

    assert _errors(result) == {endpoints["payments-orders"]: "InvalidState"}


def test_consumer_cannot_accept_its_own_endpoint(
    local_aws: LocalAws, endpoints: dict[str, str]
) -> None:
    consumer = local_aws.client("ec2", PAYMENTS)

    with pytest.raises(ClientError) as caught:
        consumer.accept_vpc_endpoint_connections(
            ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["payments-orders"]]
        )

    assert caught.value.response["Error"]["Code"] == "InvalidVpcEndpointServiceId.NotFound"
    assert _consumer_state(local_aws, endpoints["payments-orders"]) == "pendingAcceptance"


def test_accept_in_another_region_of_the_provider_finds_no_service(
    local_aws: LocalAws, endpoints: dict[str, str]
) -> None:
    elsewhere = local_aws.client("ec2", region="eu-west-1")
    with pytest.raises(ClientError) as caught:
        elsewhere.reject_vpc_endpoint_connections(
            ServiceId=REPORTS_SERVICE, VpcEndpointIds=[endpoints["payments-reports"]]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidVpcEndpointServiceId.NotFound"


def test_same_endpoint_twice_in_one_call_moves_once(
    provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    target = endpoints["partner-orders"]
    result = provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[target, target]
    )
    assert result["Unsuccessful"] == []
    assert _states(provider_ec2)[target] == "available"


def test_dry_run_changes_nothing(provider_ec2: Any, endpoints: dict[str, str]) -> None:
    with pytest.raises(ClientError) as caught:
        provider_ec2.accept_vpc_endpoint_connections(
            ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["payments-orders"]], DryRun=True
        )
    assert caught.value.response["Error"]["Code"] == "DryRunOperation"
    assert _states(provider_ec2)[endpoints["payments-orders"]] == "pendingAcceptance"


def test_accepted_connection_is_pending_until_it_settles(
    local_aws: LocalAws, provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    local_aws.set_settle_seconds(0.3)
    target = endpoints["payments-orders"]

    provider_ec2.accept_vpc_endpoint_connections(ServiceId=ORDERS_SERVICE, VpcEndpointIds=[target])

    assert _states(provider_ec2)[target] == "pending"
    deadline = time.monotonic() + WAIT_SECONDS
    while _states(provider_ec2)[target] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _states(provider_ec2)[target] == "available"
    assert _consumer_state(local_aws, target) == "available"


def test_pending_connection_can_still_be_rejected(
    local_aws: LocalAws, provider_ec2: Any, endpoints: dict[str, str]
) -> None:
    local_aws.set_settle_seconds(30)
    target = [endpoints["payments-orders"]]
    provider_ec2.accept_vpc_endpoint_connections(ServiceId=ORDERS_SERVICE, VpcEndpointIds=target)

    result = provider_ec2.reject_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=target
    )

    assert result["Unsuccessful"] == []
    assert _states(provider_ec2)[target[0]] == "rejected"
