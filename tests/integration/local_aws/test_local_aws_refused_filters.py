"""The switch that makes the local AWS refuse a DescribeVpcEndpointConnections filter, as real
AWS may refuse `vpc-endpoint-id`: by argument, by the world file, by environment variable."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_aws_helpers import ORDERS_SERVICE

from acceptor_tools.local_aws import LocalAws
from acceptor_tools.local_aws.session import REFUSE_FILTERS_VARIABLE
from acceptor_tools.local_aws.world import World

pytestmark = pytest.mark.disable_socket

BY_ENDPOINT = [{"Name": "vpc-endpoint-id", "Values": ["vpce-0a1b2c3d4e5f60718"]}]
BY_SERVICE = [{"Name": "service-id", "Values": [ORDERS_SERVICE]}]


def _code(ec2: Any, filters: list[dict[str, Any]]) -> str | None:
    try:
        ec2.describe_vpc_endpoint_connections(Filters=filters)
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return None


def test_every_filter_works_by_default(local_aws: LocalAws) -> None:
    local_aws.create_endpoints(["payments-orders"])

    assert _code(local_aws.client("ec2"), BY_ENDPOINT) is None


def test_a_refused_filter_is_answered_with_invalid_filter_and_others_still_work(
    local_aws: LocalAws,
) -> None:
    local_aws.create_endpoints(["payments-orders"])
    local_aws.set_refused_filters(["vpc-endpoint-id"])
    ec2 = local_aws.client("ec2")

    assert _code(ec2, BY_ENDPOINT) == "InvalidFilter"
    assert _code(ec2, BY_SERVICE) is None
    found = ec2.describe_vpc_endpoint_connections(Filters=BY_SERVICE)["VpcEndpointConnections"]
    assert [c["VpcEndpointId"] for c in found] == ["vpce-0a1b2c3d4e5f60718"]


def test_the_world_file_option_refuses_the_filter(
    clean_aws_environment: None, demo_world: World
) -> None:
    world = demo_world.model_copy(update={"refuse_filters": ["vpc-endpoint-id"]})

    with LocalAws(world) as aws:
        assert _code(aws.client("ec2"), BY_ENDPOINT) == "InvalidFilter"


def test_the_environment_variable_refuses_the_filter_and_stopping_forgets_it(
    clean_aws_environment: None, demo_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REFUSE_FILTERS_VARIABLE, "vpc-endpoint-id")
    with LocalAws(demo_world) as aws:
        assert _code(aws.client("ec2"), BY_ENDPOINT) == "InvalidFilter"

    monkeypatch.delenv(REFUSE_FILTERS_VARIABLE)
    with LocalAws(demo_world) as aws:
        assert _code(aws.client("ec2"), BY_ENDPOINT) is None


def test_an_unknown_filter_in_the_variable_is_refused_at_start(
    clean_aws_environment: None, demo_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REFUSE_FILTERS_VARIABLE, "vpc-endpoint-idd")

    with pytest.raises(ValueError, match="unknown filter"), LocalAws(demo_world):
        pass
