"""The managed set from tags and the filter, and the plan that keeps one notification of the
acceptor's per managed service."""

from __future__ import annotations

import pytest

from acceptor.managed import (
    EVENTS,
    MANAGED_TAG,
    Create,
    EndpointService,
    Notification,
    Remove,
    Repair,
    managed_scan,
    plan_notifications,
)

pytestmark = pytest.mark.disable_socket

A, B, C = "vpce-svc-0a1b2c3d4e5f67890", "vpce-svc-0b2c3d4e5f6a78901", "vpce-svc-0c3d4e5f6a7b89012"
TOPIC = "arn:aws:sns:us-east-1:999988887777:stack-ConnectionNotificationTopic-NEW"
PREFIX = "arn:aws:sns:us-east-1:999988887777:stack-ConnectionNotificationTopic-"
OLD_TOPIC = PREFIX + "OLD"
OTHERS = "arn:aws:sns:us-east-1:999988887777:another-team"


def tagged(service_id: str, value: str = "true") -> EndpointService:
    return EndpointService(service_id, {MANAGED_TAG: value, "app": "x"})


def notification(
    nid: str, service_id: str, topic: str = TOPIC, events: tuple[str, ...] = EVENTS
) -> Notification:
    return Notification(nid, service_id, topic, events)


def test_scan_manages_only_services_tagged_true() -> None:
    scan = managed_scan([tagged(A), tagged(B, "false"), EndpointService(C, {"app": "x"})])

    assert scan.managed == {A}
    assert scan.untagged == (B, C)


def test_scan_with_a_filter_narrows_the_tagged_set_and_names_what_it_left_out() -> None:
    scan = managed_scan([tagged(A), tagged(B), EndpointService(C)], only=[A, C])

    assert scan.managed == {A}
    assert scan.filtered_out == (B,)
    assert scan.listed_untagged == (C,)


def test_scan_of_an_account_with_no_tagged_service_manages_nothing() -> None:
    assert managed_scan([EndpointService(A), EndpointService(B)]).managed == frozenset()


def test_plan_creates_a_notification_for_each_managed_service_without_one() -> None:
    plan = plan_notifications([A, B], [notification("n1", A)], TOPIC)

    assert plan == [Create(B)]


def test_plan_of_a_world_already_right_is_empty() -> None:
    existing = [notification("n1", A), notification("n2", B)]

    assert plan_notifications([A, B], existing, TOPIC, PREFIX) == []


def test_plan_repairs_its_own_notification_with_missing_events() -> None:
    plan = plan_notifications([A], [notification("n1", A, events=("Connect",))], TOPIC)

    assert plan == [Repair("n1", A)]


def test_plan_repairs_a_notification_to_an_earlier_topic_of_the_stack() -> None:
    plan = plan_notifications([A], [notification("n1", A, OLD_TOPIC)], TOPIC, PREFIX)

    assert plan == [Repair("n1", A)]


def test_plan_leaves_other_teams_notifications_alone_and_adds_its_own() -> None:
    existing = [notification("n1", A, OTHERS), notification("n2", C, OTHERS)]

    assert plan_notifications([A], existing, TOPIC, PREFIX) == [Create(A)]


def test_plan_removes_only_its_own_notification_of_a_service_that_left() -> None:
    existing = [notification("n1", A), notification("n2", B), notification("n3", B, OTHERS)]

    assert plan_notifications([A], existing, TOPIC, PREFIX) == [Remove("n2", B)]


def test_plan_keeps_one_of_duplicate_own_notifications() -> None:
    existing = [notification("n2", A, OLD_TOPIC), notification("n1", A)]

    assert plan_notifications([A], existing, TOPIC, PREFIX) == [Remove("n2", A)]
