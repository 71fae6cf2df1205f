"""The fault injector: rates for a fixed seed, and what clients see of each kind of fault."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from local_aws_helpers import ORDERS_SERVICE

from acceptor_tools.local_aws import FaultInjector, FaultRule, LocalAws

pytestmark = pytest.mark.disable_socket

ACCEPT = "AcceptVpcEndpointConnections"
DESCRIBE = "DescribeVpcEndpointConnections"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _draws(injector: FaultInjector, action: str, count: int) -> list[str | None]:
    drawn = [injector.draw("ec2", action) for _ in range(count)]
    return [rule.kind if rule else None for rule in drawn]


def test_fault_rates_for_a_fixed_seed_stay_within_tolerance() -> None:
    injector = FaultInjector()
    injector.configure(
        [FaultRule(ACCEPT, "throttle", 0.2), FaultRule(ACCEPT, "server_error", 0.1)], seed=42
    )

    kinds = _draws(injector, ACCEPT, 5000)

    assert abs(kinds.count("throttle") / 5000 - 0.2) < 0.02
    assert abs(kinds.count("server_error") / 5000 - 0.1) < 0.02
    assert injector.seen[ACCEPT] == 5000
    assert injector.injected[(ACCEPT, "throttle")] == kinds.count("throttle")


def test_same_seed_gives_the_same_faults_in_the_same_order() -> None:
    first, second = FaultInjector(), FaultInjector()
    rules = [FaultRule(ACCEPT, "throttle", 0.5)]
    first.configure(rules, seed=7)
    second.configure(rules, seed=7)
    assert _draws(first, ACCEPT, 200) == _draws(second, ACCEPT, 200)


def test_requests_no_rule_names_neither_fail_nor_shift_the_sequence() -> None:
    quiet, busy = FaultInjector(), FaultInjector()
    rules = [FaultRule(ACCEPT, "throttle", 0.5)]
    quiet.configure(rules, seed=3)
    busy.configure(rules, seed=3)

    expected = _draws(quiet, ACCEPT, 50)
    observed = []
    for _ in range(50):
        assert busy.draw("ec2", DESCRIBE) is None
        observed.extend(_draws(busy, ACCEPT, 1))

    assert observed == expected
    assert busy.seen[DESCRIBE] == 0


def test_rule_for_any_action_can_be_narrowed_to_a_service() -> None:
    injector = FaultInjector()
    injector.configure([FaultRule("*", "throttle", 1.0, service="sns")], seed=1)
    assert injector.draw("ec2", ACCEPT) is None
    rule = injector.draw("sns", "Publish")
    assert rule is not None
    assert rule.kind == "throttle"


def test_cleared_injector_injects_nothing() -> None:
    injector = FaultInjector()
    injector.configure([FaultRule(ACCEPT, "throttle", 1.0)], seed=1)
    injector.clear()
    assert not injector.enabled
    assert injector.draw("ec2", ACCEPT) is None


@pytest.mark.parametrize(
    "rules",
    [
        [FaultRule(ACCEPT, "throttle", 0.7), FaultRule(ACCEPT, "server_error", 0.4)],
    ],
)
def test_rates_of_one_action_adding_up_above_one_are_refused(rules: list[FaultRule]) -> None:
    with pytest.raises(ValueError, match="add up to"):
        FaultInjector().configure(rules, seed=1)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_outside_zero_to_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        FaultRule(ACCEPT, "throttle", rate)


def _accept_repeatedly(ec2: Any, count: int) -> list[str]:
    outcomes = []
    for _ in range(count):
        try:
            ec2.accept_vpc_endpoint_connections(
                ServiceId=ORDERS_SERVICE, VpcEndpointIds=["vpce-0ffffffffffffffff"]
            )
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    return outcomes


def test_throttled_action_fails_with_request_limit_exceeded_at_the_configured_rate(
    local_aws: LocalAws,
) -> None:
    ec2 = local_aws.session().client("ec2", config=NO_RETRIES)
    local_aws.faults.configure([FaultRule(ACCEPT, "throttle", 0.3)], seed=11)

    outcomes = _accept_repeatedly(ec2, 300)

    throttled = outcomes.count("RequestLimitExceeded")
    assert throttled == local_aws.faults.injected[(ACCEPT, "throttle")]
    assert 60 <= throttled <= 120
    assert set(outcomes) == {"ok", "RequestLimitExceeded"}


def test_throttling_is_an_http_503_that_botocore_retries(local_aws: LocalAws) -> None:
    local_aws.faults.configure([FaultRule(ACCEPT, "throttle", 1.0)], seed=1)
    ec2 = local_aws.session().client(
        "ec2", config=Config(retries={"mode": "standard", "total_max_attempts": 3})
    )
    with pytest.raises(ClientError) as caught:
        ec2.accept_vpc_endpoint_connections(ServiceId=ORDERS_SERVICE, VpcEndpointIds=["vpce-1"])
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert local_aws.faults.seen[ACCEPT] == 3


def test_server_error_is_an_internal_error_500(local_aws: LocalAws) -> None:
    local_aws.faults.configure([FaultRule(DESCRIBE, "server_error", 1.0)], seed=1)
    ec2 = local_aws.session().client("ec2", config=NO_RETRIES)
    with pytest.raises(ClientError) as caught:
        ec2.describe_vpc_endpoint_connections()
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_standard_retries_get_through_occasional_throttling(local_aws: LocalAws) -> None:
    (endpoint,) = local_aws.create_endpoints(["payments-orders"])
    local_aws.faults.configure([FaultRule(ACCEPT, "throttle", 0.5)], seed=5)

    result = local_aws.client("ec2").accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoint.id]
    )

    assert result["Unsuccessful"] == []


def test_slow_action_answers_after_the_delay(local_aws: LocalAws) -> None:
    local_aws.faults.configure([FaultRule(DESCRIBE, "slow", 1.0, delay_seconds=0.3)], seed=1)
    ec2 = local_aws.client("ec2")

    started = time.monotonic()
    ec2.describe_vpc_endpoint_connections()
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    assert local_aws.faults.injected[(DESCRIBE, "slow")] == 1


def test_faults_of_other_services_use_their_own_error_codes(local_aws: LocalAws) -> None:
    local_aws.faults.configure([FaultRule("Publish", "throttle", 1.0, service="sns")], seed=1)
    sns = local_aws.session().client("sns", config=NO_RETRIES)
    topic = sns.create_topic(Name="t")["TopicArn"]
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=topic, Message="m")
    assert caught.value.response["Error"]["Code"] == "Throttling"


def test_stopping_the_local_aws_clears_the_faults(local_aws: LocalAws) -> None:
    local_aws.faults.configure([FaultRule(ACCEPT, "throttle", 1.0)], seed=1)
    local_aws.stop()
    with LocalAws() as fresh:
        assert not fresh.faults.enabled


def test_applied_then_5xx_changes_the_state_and_still_answers_an_internal_error(
    local_aws: LocalAws,
) -> None:
    # Given a pending connection and accepts that are applied but lose their answer
    (endpoint,) = local_aws.create_endpoints(["payments-orders"])
    local_aws.faults.configure([FaultRule(ACCEPT, "applied_then_5xx", 1.0)], seed=1)
    ec2 = local_aws.session().client("ec2", config=NO_RETRIES)

    # When the provider accepts it
    with pytest.raises(ClientError) as caught:
        ec2.accept_vpc_endpoint_connections(ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoint.id])

    # Then the caller saw a 500, and yet the connection was accepted
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    local_aws.faults.clear()
    (connection,) = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [ORDERS_SERVICE]}]
    )["VpcEndpointConnections"]
    assert connection["VpcEndpointState"] == "available"
    assert connection["VpcEndpointId"] == endpoint.id
