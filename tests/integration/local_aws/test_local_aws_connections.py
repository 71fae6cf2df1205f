"""DescribeVpcEndpointConnections: fields, filters, pagination, and who sees what."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from local_aws_helpers import (
    ANALYTICS,
    ORDERS_SERVICE,
    PARTNER,
    PAYMENTS,
    PROVIDER,
    REPORTS_SERVICE,
    SANDBOX,
    create_endpoint,
)

from acceptor_tools.local_aws import LocalAws

pytestmark = pytest.mark.disable_socket


def _connections(ec2: Any, **request: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ec2.describe_vpc_endpoint_connections(**request)[
        "VpcEndpointConnections"
    ]
    return found


def _ids(connections: list[dict[str, Any]]) -> set[str]:
    return {c["VpcEndpointId"] for c in connections}


def _botocore_members(shape: str) -> set[str]:
    model_path = (
        Path(botocore.__file__).parent / "data" / "ec2" / "2016-11-15" / "service-2.json.gz"
    )
    model = json.loads(gzip.decompress(model_path.read_bytes()))
    return set(model["shapes"][shape]["members"])


def test_connection_has_every_field_of_the_botocore_shape_the_provider_sees(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    endpoint = local_aws.create_endpoints(["payments-orders"])[0]

    (connection,) = _connections(provider_ec2)

    # Tags and payer responsibilities are optional in AWS and absent here.
    assert set(connection) == _botocore_members("VpcEndpointConnection") - {
        "Tags",
        "PayerResponsibilities",
    }
    assert connection["ServiceId"] == ORDERS_SERVICE
    assert connection["VpcEndpointId"] == endpoint.id
    assert connection["VpcEndpointOwner"] == PAYMENTS
    assert connection["VpcEndpointRegion"] == "us-east-1"
    assert connection["VpcEndpointState"] == "pendingAcceptance"
    assert connection["VpcEndpointConnectionId"].startswith("vpce-con-")
    assert connection["NetworkLoadBalancerArns"] == (
        local_aws.world.services["orders-api"].load_balancer_arns
    )
    assert connection["DnsEntries"][0]["DnsName"].startswith(endpoint.id)
    assert connection["CreationTimestamp"].tzinfo is not None


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("service-id", [REPORTS_SERVICE], {"payments-reports"}),
        ("vpc-endpoint-owner", [SANDBOX, PARTNER], {"sandbox-orders", "partner-orders"}),
        ("vpc-endpoint-state", ["available"], {"payments-status"}),
        ("vpc-endpoint-region", ["us-west-2"], {"analytics-orders"}),
        ("vpc-endpoint-region", ["cross-region"], {"analytics-orders"}),
        ("ip-address-type", ["ipv4"], None),
    ],
)
def test_filter_selects_matching_connections(
    local_aws: LocalAws,
    provider_ec2: Any,
    name: str,
    values: list[str],
    expected: set[str] | None,
) -> None:
    local_aws.create_endpoints()
    by_id = {e.id: e.name for e in local_aws.world.endpoints.values()}

    found = _connections(provider_ec2, Filters=[{"Name": name, "Values": values}])

    names = {by_id[c["VpcEndpointId"]] for c in found}
    assert names == (expected if expected is not None else set(by_id.values()))


def test_endpoint_id_filter_and_state_filter_combine_with_and(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    endpoints = {e.name: e.id for e in local_aws.create_endpoints()}
    wanted = [endpoints["payments-orders"], endpoints["payments-status"]]

    found = _connections(
        provider_ec2,
        Filters=[
            {"Name": "vpc-endpoint-id", "Values": wanted},
            {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]},
        ],
    )

    assert _ids(found) == {endpoints["payments-orders"]}


def test_unknown_filter_is_rejected(local_aws: LocalAws, provider_ec2: Any) -> None:
    with pytest.raises(ClientError) as caught:
        _connections(provider_ec2, Filters=[{"Name": "vpc-id", "Values": ["vpc-1"]}])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_pages_of_max_results_cover_every_connection_once(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    local_aws.create_endpoints()
    extra = [create_endpoint(local_aws, PAYMENTS, "payments", "orders-api") for _ in range(5)]
    everything = _ids(_connections(provider_ec2))
    assert len(everything) == 11
    assert {e["VpcEndpointId"] for e in extra} <= everything

    pages = []
    request: dict[str, Any] = {"MaxResults": 5}
    for _ in range(10):  # bounded: 3 pages expected
        page = provider_ec2.describe_vpc_endpoint_connections(**request)
        pages.append(page["VpcEndpointConnections"])
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]

    assert [len(p) for p in pages] == [5, 5, 1]
    assert set().union(*(_ids(p) for p in pages)) == everything


def test_paginator_walks_filtered_pages(local_aws: LocalAws, provider_ec2: Any) -> None:
    local_aws.create_endpoints()
    for _ in range(7):  # with the world's four: 11 connections to orders-api
        create_endpoint(local_aws, PAYMENTS, "payments", "orders-api")

    paginator = provider_ec2.get_paginator("describe_vpc_endpoint_connections")
    pages = list(
        paginator.paginate(
            Filters=[{"Name": "service-id", "Values": [ORDERS_SERVICE]}],
            PaginationConfig={"PageSize": 5},
        )
    )

    seen = [c["ServiceId"] for page in pages for c in page["VpcEndpointConnections"]]
    assert [len(p["VpcEndpointConnections"]) for p in pages] == [5, 5, 1]
    assert len(seen) == 11
    assert set(seen) == {ORDERS_SERVICE}


def test_max_results_below_five_is_rejected(local_aws: LocalAws, provider_ec2: Any) -> None:
    with pytest.raises(ClientError) as caught:
        provider_ec2.describe_vpc_endpoint_connections(MaxResults=4)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_forged_next_token_is_rejected(local_aws: LocalAws, provider_ec2: Any) -> None:
    local_aws.create_endpoints()
    with pytest.raises(ClientError) as caught:
        provider_ec2.describe_vpc_endpoint_connections(NextToken="not-a-token")
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_consumer_sees_no_connections_of_the_provider(local_aws: LocalAws) -> None:
    local_aws.create_endpoints()
    for account, region in [(PAYMENTS, "us-east-1"), (ANALYTICS, "us-west-2")]:
        assert _connections(local_aws.client("ec2", account, region)) == []


def test_provider_sees_only_connections_to_its_own_services(local_aws: LocalAws) -> None:
    """A second provider (the partner account) runs its own service; each provider sees only
    the connections to its services."""
    local_aws.create_endpoints()
    partner = local_aws.client("ec2", PARTNER)
    partner_vpc = local_aws.world.vpc(PARTNER, "partner")
    balancer = local_aws.client("elbv2", PARTNER).create_load_balancer(
        Name="partner-nlb", Subnets=list(partner_vpc.subnets.values()), Type="network"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    service = partner.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[balancer], AcceptanceRequired=True
    )["ServiceConfiguration"]
    partner.modify_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{PAYMENTS}:root"]
    )
    payments_vpc = local_aws.world.vpc(PAYMENTS, "payments")
    to_partner = local_aws.client("ec2", PAYMENTS).create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=payments_vpc.id,
        ServiceName=service["ServiceName"],
        SubnetIds=list(payments_vpc.subnets.values()),
    )["VpcEndpoint"]["VpcEndpointId"]

    assert _ids(_connections(partner)) == {to_partner}
    provider_ids = _ids(_connections(local_aws.client("ec2", PROVIDER)))
    assert to_partner not in provider_ids
    assert provider_ids == {e.id for e in local_aws.world.endpoints.values()}


def test_botocore_parses_connections_with_standard_retries_off(local_aws: LocalAws) -> None:
    local_aws.create_endpoints(["payments-orders"])
    session = local_aws.session()
    ec2 = session.client("ec2", config=Config(retries={"max_attempts": 1}))
    assert len(_connections(ec2)) == 1
