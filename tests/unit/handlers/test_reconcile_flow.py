"""The Reconcile flow: pending connections requested again, holds expired, revocation checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from handler_fakes import NOW, FakeBus, FakeEc2, pending

from acceptor.aws.errors import AwsError, Throttled
from acceptor.contract import RequestedDetail
from acceptor.flows.managed import MAX_CHANGES
from acceptor.flows.reconcile import (
    Notifications,
    SweepIncomplete,
    SweepReport,
    reconcile,
    sweep,
)
from acceptor.managed import EVENTS, MANAGED_TAG, EndpointService, Notification
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


class FakeServices:
    """Endpoint services and their notifications in memory, as `EndpointServices` gives them."""

    def __init__(self, services: list[EndpointService]) -> None:
        self.services_list = services
        self.existing: dict[str, Notification] = {}
        self.writes: list[str] = []
        self.throttle_after: int | None = None
        self.scan_error: AwsError | None = None

    def services(self) -> list[EndpointService]:
        if self.scan_error is not None:
            raise self.scan_error
        return list(self.services_list)

    def notifications(self) -> list[Notification]:
        return list(self.existing.values())

    def _write(self, what: str) -> None:
        if self.throttle_after is not None and len(self.writes) >= self.throttle_after:
            raise Throttled("CreateVpcEndpointConnectionNotification", "RequestLimitExceeded", "")
        self.writes.append(what)

    def create(self, service_id: str, topic_arn: str) -> str:
        self._write(f"create {service_id}")
        nid = f"vpce-nfn-{len(self.existing):017x}"
        self.existing[nid] = Notification(nid, service_id, topic_arn, EVENTS)
        return nid

    def repair(self, notification_id: str, topic_arn: str) -> None:
        self._write(f"repair {notification_id}")
        old = self.existing[notification_id]
        self.existing[notification_id] = Notification(
            notification_id, old.service_id, topic_arn, EVENTS
        )

    def remove(self, notification_ids: list[str]) -> dict[str, AwsError]:
        for nid in notification_ids:
            self._write(f"remove {nid}")
            del self.existing[nid]
        return {}


TOPIC = "arn:aws:sns:us-east-1:999988887777:stack-ConnectionNotificationTopic-X"


def tagged(service_id: str) -> EndpointService:
    return EndpointService(service_id, {MANAGED_TAG: "true"})


def run(
    services: FakeServices, ec2: FakeEc2, bus: FakeBus, *, only: tuple[str, ...] = ()
) -> SweepReport:
    return reconcile(
        cast(Any, ec2),
        cast(Any, services),
        cast(Any, bus),
        policy(),
        only=only,
        notifications=Notifications(TOPIC),
        now=NOW,
        correlation_id="s1",
    )


def test_reconcile_notifies_and_sweeps_tagged_services_and_reports_the_others() -> None:
    services = FakeServices([tagged(A), EndpointService(B)])
    ec2 = FakeEc2([pending("vpce-00000001"), pending("vpce-00000002", service_id=B)])
    bus = FakeBus()

    report = run(services, ec2, bus)

    assert report.services == [A]
    assert report.unmanaged == [B]
    assert report.notifications.created == [A]
    assert origins(bus) == {"vpce-00000001": "sweep"}


def test_reconcile_writes_a_bounded_number_of_notifications_per_run_then_nothing() -> None:
    many = [f"vpce-svc-{n:017x}" for n in range(MAX_CHANGES + 10)]
    services = FakeServices([tagged(s) for s in many])

    first = run(services, FakeEc2(), FakeBus())
    second = run(services, FakeEc2(), FakeBus())
    third = run(services, FakeEc2(), FakeBus())

    assert (len(first.notifications.created), first.notifications.deferred) == (MAX_CHANGES, 10)
    assert (len(second.notifications.created), second.notifications.deferred) == (10, 0)
    assert third.notifications.created == third.notifications.removed == []
    assert {n.service_id for n in services.existing.values()} == set(many)


def test_reconcile_stops_writing_once_throttled_but_still_sweeps_then_raises() -> None:
    services = FakeServices([tagged(A), tagged(B)])
    services.throttle_after = 1
    bus = FakeBus()

    with pytest.raises(SweepIncomplete):
        run(services, FakeEc2([pending("vpce-00000001")]), bus)

    assert services.writes == [f"create {A}"]
    assert origins(bus) == {"vpce-00000001": "sweep"}


def test_reconcile_removes_its_notification_when_the_filter_drops_a_service() -> None:
    services = FakeServices([tagged(A), tagged(B)])
    run(services, FakeEc2(), FakeBus())

    report = run(services, FakeEc2(), FakeBus(), only=(A,))

    assert report.notifications.removed == [B]
    assert [n.service_id for n in services.existing.values()] == [A]


def test_a_failed_scan_sweeps_nothing() -> None:
    services = FakeServices([tagged(A)])
    services.scan_error = Throttled("DescribeVpcEndpointServiceConfigurations", "Throttling", "")
    bus = FakeBus()

    with pytest.raises(Throttled):
        run(services, FakeEc2([pending("vpce-00000001")]), bus)

    assert bus.events == []
