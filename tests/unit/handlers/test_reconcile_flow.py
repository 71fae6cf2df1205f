"""The Reconcile flow: pending connections requested again, holds expired, revocation checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from handler_fakes import NOW, FakeBus, FakeEc2, pending

from acceptor.aws.errors import Throttled
from acceptor.contract import RequestedDetail
from acceptor.flows.reconcile import SweepIncomplete, sweep
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

A = "vpce-svc-0a1b2c3d4e5f67890"
B = "vpce-svc-0b2c3d4e5f6a78901"


def policy(**settings: Any) -> PolicySet:
    data = {"version": 1, "services": ["*"], **settings}
    return PolicySet.from_documents([PolicyDocument("p.yaml", PolicyFile.model_validate(data))])


def origins(bus: FakeBus) -> dict[str, str]:
    return {
        cast(RequestedDetail, e.detail).endpoint_id: cast(RequestedDetail, e.detail).origin
        for e in bus.events
    }


def test_sweep_requests_every_pending_connection_of_the_managed_services() -> None:
    ec2 = FakeEc2(
        [
            pending("vpce-00000001"),
            pending("vpce-00000002", service_id=B),
            pending("vpce-00000003", state="available"),
            pending("vpce-00000004", service_id="vpce-svc-0c3d4e5f6a7b89012"),
        ]
    )
    bus = FakeBus()

    report = sweep(cast(Any, ec2), cast(Any, bus), policy(), [A, B], now=NOW, correlation_id="s1")

    assert origins(bus) == {"vpce-00000001": "sweep", "vpce-00000002": "sweep"}
    assert report.requested == 2
    assert {cast(RequestedDetail, e.detail).correlation_id for e in bus.events} == {"s1"}


def test_no_managed_service_sweeps_nothing() -> None:
    ec2 = FakeEc2([pending("vpce-00000001"), pending("vpce-00000002", service_id=B)])
    bus = FakeBus()

    report = sweep(cast(Any, ec2), cast(Any, bus), policy(), [], now=NOW, correlation_id="s1")

    assert report.services == []
    assert bus.events == []


def test_pending_past_the_hold_is_requested_as_hold_expired() -> None:
    ec2 = FakeEc2([pending("vpce-00000001", age=timedelta(hours=80)), pending("vpce-00000002")])
    bus = FakeBus()

    report = sweep(
        cast(Any, ec2),
        cast(Any, bus),
        policy(hold={"expires_after": "72h"}),
        [A],
        now=NOW,
        correlation_id="s1",
    )

    assert origins(bus) == {"vpce-00000001": "hold-expired", "vpce-00000002": "sweep"}
    assert report.hold_expired == 1


def test_revoke_adds_a_check_of_every_available_connection() -> None:
    ec2 = FakeEc2([pending("vpce-00000001"), pending("vpce-00000003", state="available")])
    bus = FakeBus()

    report = sweep(
        cast(Any, ec2), cast(Any, bus), policy(revoke=True), [A], now=NOW, correlation_id="s1"
    )

    assert origins(bus) == {"vpce-00000001": "sweep", "vpce-00000003": "revocation"}
    assert report.revocation_checks == 1


def test_without_revoke_available_connections_are_not_even_listed() -> None:
    ec2 = FakeEc2([pending("vpce-00000003", state="available")])

    sweep(cast(Any, ec2), cast(Any, FakeBus()), policy(), [A], now=NOW, correlation_id="s1")

    assert ec2.calls == [("list", A, ("pendingAcceptance",))]


def test_a_failing_service_does_not_stop_the_others_but_the_sweep_raises() -> None:
    class Flaky(FakeEc2):
        def list_connections(self, service_id: str, state: str) -> Any:
            if service_id == A:
                raise Throttled("DescribeVpcEndpointConnections", "Throttling", "slow")
            return super().list_connections(service_id, state)

    ec2 = Flaky([pending("vpce-00000001"), pending("vpce-00000002", service_id=B)])
    bus = FakeBus()

    with pytest.raises(SweepIncomplete):
        sweep(cast(Any, ec2), cast(Any, bus), policy(), [A, B], now=NOW, correlation_id="s1")

    assert origins(bus) == {"vpce-00000002": "sweep"}
