"""The local AWS behind moto's server: every added action over HTTP, accounts, lifecycle."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from local_aws_helpers import ORDERS_SERVICE, PAYMENTS, PROVIDER, REPORTS_SERVICE, subscribe_inbox

from acceptor_tools.local_aws import FaultRule, LocalAws


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_server_listens_on_loopback_at_a_free_port(local_aws_server: LocalAws) -> None:
    url = local_aws_server.endpoint_url
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    assert _port_of(url) > 0


def test_every_added_action_round_trips_through_http(local_aws_server: LocalAws) -> None:
    aws = local_aws_server
    provider = aws.client("ec2")
    topic = aws.world.services["orders-api"].notify_topic_arn
    assert topic is not None
    inbox = subscribe_inbox(aws, topic)
    endpoints = {e.name: e.id for e in aws.create_endpoints()}

    page = provider.describe_vpc_endpoint_connections(MaxResults=5)
    assert len(page["VpcEndpointConnections"]) == 5
    rest = provider.describe_vpc_endpoint_connections(NextToken=page["NextToken"])
    assert len(rest["VpcEndpointConnections"]) == 1

    accepted = provider.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["payments-orders"], "vpce-0f"]
    )
    assert [u["ResourceId"] for u in accepted["Unsuccessful"]] == ["vpce-0f"]
    rejected = provider.reject_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoints["sandbox-orders"]]
    )
    assert rejected["Unsuccessful"] == []

    created = provider.create_vpc_endpoint_connection_notification(
        ServiceId=REPORTS_SERVICE, ConnectionNotificationArn=topic, ConnectionEvents=["Accept"]
    )["ConnectionNotification"]
    listed = provider.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    assert created["ConnectionNotificationId"] in {n["ConnectionNotificationId"] for n in listed}
    assert provider.modify_vpc_endpoint_connection_notification(
        ConnectionNotificationId=created["ConnectionNotificationId"], ConnectionEvents=["Reject"]
    )["ReturnValue"]
    deleted = provider.delete_vpc_endpoint_connection_notifications(
        ConnectionNotificationIds=[created["ConnectionNotificationId"]]
    )
    assert deleted["Unsuccessful"] == []

    consumer = aws.client("ec2", PAYMENTS)
    consumer.delete_vpc_endpoints(VpcEndpointIds=[endpoints["payments-orders"]])
    (state,) = consumer.describe_vpc_endpoints(VpcEndpointIds=[endpoints["payments-orders"]])[
        "VpcEndpoints"
    ]
    assert state["State"] == "deleted"
    # the world's topic hears both orders-api and reports-api: 5 Connect, Accept, Reject, Delete
    events = [json.loads(e["Message"])["eventType"] for e in inbox.receive(8)]
    assert sorted(events) == [
        "Accept",
        "Connect",
        "Connect",
        "Connect",
        "Connect",
        "Connect",
        "Delete",
        "Reject",
    ]


def test_act_as_makes_boto3_defaults_reach_the_account(
    local_aws_server: LocalAws, act_as: Callable[..., dict[str, str]]
) -> None:
    act_as(local_aws_server, PAYMENTS)
    assert boto3.client("sts").get_caller_identity()["Account"] == PAYMENTS
    act_as(local_aws_server)
    assert boto3.client("sts").get_caller_identity()["Account"] == PROVIDER


@pytest.mark.disable_socket
def test_act_as_works_in_process_too(
    local_aws: LocalAws, act_as: Callable[..., dict[str, str]]
) -> None:
    variables = act_as(local_aws, PAYMENTS)
    assert "AWS_ENDPOINT_URL" not in variables
    assert boto3.client("sts").get_caller_identity()["Account"] == PAYMENTS


def test_faults_apply_to_the_server_as_well(local_aws_server: LocalAws) -> None:
    local_aws_server.faults.configure(
        [FaultRule("DescribeVpcEndpointConnections", "throttle", 1.0)], seed=1
    )
    ec2 = local_aws_server.session().client(
        "ec2",
        endpoint_url=local_aws_server.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        ec2.describe_vpc_endpoint_connections()
    assert caught.value.response["Error"]["Code"] == "RequestLimitExceeded"


def test_second_local_aws_in_the_same_process_is_refused(local_aws_server: LocalAws) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        LocalAws().start()


def test_port_in_use_fails_at_start_and_leaves_nothing_running(
    clean_aws_environment: None,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            LocalAws(server=True, port=port).start()
    with LocalAws() as after:
        assert after.endpoint_url is None


def test_stopping_the_server_closes_its_port(clean_aws_environment: None) -> None:
    with LocalAws(server=True) as aws:
        url = aws.endpoint_url
        assert url is not None
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", _port_of(url)), timeout=2),
    ):
        pass


def test_moto_account_variable_is_refused(
    clean_aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", PROVIDER)
    with pytest.raises(RuntimeError, match="MOTO_ACCOUNT_ID"):
        LocalAws().start()


def test_client_without_world_needs_an_account(clean_aws_environment: None) -> None:
    with LocalAws() as aws:
        with pytest.raises(ValueError, match="name the account"):
            aws.client("ec2")
        identity: Any = aws.client("sts", "123412341234").get_caller_identity()
        assert identity["Account"] == "123412341234"
