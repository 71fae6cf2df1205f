"""Endpoints to endpoint services: the state they start in, who may create them, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_aws_helpers import (
    ANALYTICS,
    PARTNER,
    PAYMENTS,
    PROVIDER,
    SANDBOX,
    create_endpoint,
)

from acceptor_tools.local_aws import LocalAws

pytestmark = pytest.mark.disable_socket


def _consumer_view(aws: LocalAws, account: str, endpoint_id: str, region: str = "us-east-1") -> Any:
    ec2 = aws.client("ec2", account, region)
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


def _connection(aws: LocalAws, endpoint_id: str) -> dict[str, Any]:
    found = aws.client("ec2").describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}]
    )["VpcEndpointConnections"]
    assert len(found) == 1
    connection: dict[str, Any] = found[0]
    return connection


def test_endpoint_to_service_requiring_acceptance_starts_pending_acceptance(
    local_aws: LocalAws,
) -> None:
    created = create_endpoint(local_aws, PAYMENTS, "payments", "orders-api")

    assert created["State"] == "pendingAcceptance"
    assert _consumer_view(local_aws, PAYMENTS, created["VpcEndpointId"])["State"] == (
        "pendingAcceptance"
    )
    assert _connection(local_aws, created["VpcEndpointId"])["VpcEndpointState"] == (
        "pendingAcceptance"
    )


def test_endpoint_to_service_without_acceptance_is_available_at_once(local_aws: LocalAws) -> None:
    created = create_endpoint(local_aws, PAYMENTS, "payments", "status-api")

    assert created["State"] == "available"
    assert _connection(local_aws, created["VpcEndpointId"])["VpcEndpointState"] == "available"


def test_world_endpoints_start_in_the_state_their_service_asks_for(local_aws: LocalAws) -> None:
    created = {e.name: e.state for e in local_aws.create_endpoints()}

    assert created == {
        "payments-orders": "pendingAcceptance",
        "payments-reports": "pendingAcceptance",
        "payments-status": "available",
        "analytics-orders": "pendingAcceptance",
        "sandbox-orders": "pendingAcceptance",
        "partner-orders": "pendingAcceptance",
    }


def test_endpoint_to_unknown_service_fails_with_invalid_service_name(local_aws: LocalAws) -> None:
    vpc = local_aws.world.vpc(PAYMENTS, "payments")
    with pytest.raises(ClientError) as caught:
        local_aws.client("ec2", PAYMENTS).create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc.id,
            ServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0ffffffffffffffff",
            SubnetIds=list(vpc.subnets.values()),
        )
    assert caught.value.response["Error"]["Code"] == "InvalidServiceName"
    assert local_aws.client("ec2", PAYMENTS).describe_vpc_endpoints()["VpcEndpoints"] == []


def test_endpoint_from_account_the_service_does_not_allow_fails(local_aws: LocalAws) -> None:
    with pytest.raises(ClientError) as caught:
        create_endpoint(local_aws, SANDBOX, "sandbox", "status-api")
    assert caught.value.response["Error"]["Code"] == "InvalidServiceName"


def test_endpoint_from_allowed_account_of_explicit_principals_succeeds(local_aws: LocalAws) -> None:
    created = create_endpoint(local_aws, ANALYTICS, "analytics", "orders-api")
    assert created["State"] == "pendingAcceptance"


def test_cross_region_endpoint_reports_its_own_region_to_the_provider(local_aws: LocalAws) -> None:
    created = create_endpoint(local_aws, ANALYTICS, "analytics", "orders-api")

    connection = _connection(local_aws, created["VpcEndpointId"])
    assert connection["VpcEndpointRegion"] == "us-west-2"
    assert connection["VpcEndpointOwner"] == ANALYTICS
    assert _consumer_view(local_aws, ANALYTICS, created["VpcEndpointId"], "us-west-2")["State"] == (
        "pendingAcceptance"
    )


def test_cross_region_endpoint_to_service_not_serving_that_region_fails(
    local_aws: LocalAws,
) -> None:
    with pytest.raises(ClientError) as caught:
        create_endpoint(local_aws, ANALYTICS, "analytics", "reports-api")
    assert caught.value.response["Error"]["Code"] == "InvalidServiceName"


def test_interface_endpoint_without_groups_gets_the_vpc_default_group(local_aws: LocalAws) -> None:
    created = create_endpoint(local_aws, PARTNER, "partner", "orders-api")

    default = local_aws.world.vpc(PARTNER, "partner").default_security_group
    assert [g["GroupId"] for g in created["Groups"]] == [default]


def test_endpoint_keeps_the_ip_address_type_it_asked_for(local_aws: LocalAws) -> None:
    created = create_endpoint(
        local_aws, PAYMENTS, "payments", "orders-api", IpAddressType="dualstack"
    )

    assert created["IpAddressType"] == "dualstack"
    assert _connection(local_aws, created["VpcEndpointId"])["IpAddressType"] == "dualstack"


def test_endpoint_to_an_aws_service_is_left_as_moto_makes_it(local_aws: LocalAws) -> None:
    vpc = local_aws.world.vpc(PAYMENTS, "payments")
    created = local_aws.client("ec2", PAYMENTS).create_vpc_endpoint(
        VpcEndpointType="Gateway", VpcId=vpc.id, ServiceName="com.amazonaws.us-east-1.s3"
    )["VpcEndpoint"]

    assert created["State"] == "available"
    assert (
        local_aws.client("ec2").describe_vpc_endpoint_connections()["VpcEndpointConnections"] == []
    )


def test_consumer_deleting_endpoint_leaves_connection_deleted(local_aws: LocalAws) -> None:
    created = create_endpoint(local_aws, PAYMENTS, "payments", "orders-api")
    consumer = local_aws.client("ec2", PAYMENTS)

    result = consumer.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])

    assert result["Unsuccessful"] == []
    assert _connection(local_aws, created["VpcEndpointId"])["VpcEndpointState"] == "deleted"
    assert _consumer_view(local_aws, PAYMENTS, created["VpcEndpointId"])["State"] == "deleted"


def test_provider_can_connect_to_its_own_service_without_permission(local_aws: LocalAws) -> None:
    created = create_endpoint(local_aws, PROVIDER, "provider", "status-api")
    assert created["State"] == "available"
