"""Accepts and rejects grouped per service, and per-item failures settled."""

from __future__ import annotations

from typing import Any

import pytest

from acceptor.aws.ec2 import failures_of
from acceptor.decision.actions import (
    ACTION_CHUNK,
    Act,
    ActionBatch,
    ItemFailure,
    plan_batches,
    settle,
)

pytestmark = pytest.mark.disable_socket

A, B = "vpce-svc-0a1b2c3d4e5f67890", "vpce-svc-0b2c3d4e5f6a78901"


def test_batches_group_by_service_and_action_in_first_seen_order() -> None:
    items: list[tuple[str, Act, str]] = [
        (A, "accept", "vpce-00000001"),
        (B, "reject", "vpce-00000002"),
        (A, "reject", "vpce-00000003"),
        (A, "accept", "vpce-00000004"),
        (B, "reject", "vpce-00000005"),
    ]

    assert plan_batches(items) == [
        ActionBatch(A, "accept", ("vpce-00000001", "vpce-00000004")),
        ActionBatch(B, "reject", ("vpce-00000002", "vpce-00000005")),
        ActionBatch(A, "reject", ("vpce-00000003",)),
    ]


def test_thousands_of_accepts_for_one_service_make_one_call_per_chunk() -> None:
    items: list[tuple[str, Act, str]] = [
        (A, "accept", f"vpce-{i:08x}") for i in range(ACTION_CHUNK + 1)
    ]

    batches = plan_batches(items)

    assert [len(b.endpoint_ids) for b in batches] == [ACTION_CHUNK, 1]


def test_an_endpoint_named_twice_is_asked_once() -> None:
    batches = plan_batches([(A, "accept", "vpce-00000001"), (A, "accept", "vpce-00000001")])

    assert batches == [ActionBatch(A, "accept", ("vpce-00000001",))]


def test_no_failure_is_success() -> None:
    assert settle("accept", None, "available").result == "succeeded"


@pytest.mark.parametrize(
    ("act", "state"), [("accept", "available"), ("accept", "pending"), ("reject", "rejected")]
)
def test_failure_but_already_in_the_wanted_state_is_success(act: Act, state: str) -> None:
    settled = settle(act, ItemFailure("InvalidState", "not pending"), state)

    assert settled.result == "succeeded"
    assert not settled.retry


def test_throttled_item_still_failing_goes_back_to_the_queue() -> None:
    settled = settle(
        "accept", ItemFailure("RequestLimitExceeded", "slow down"), "pendingAcceptance"
    )

    assert (settled.result, settled.retry) == ("failed", True)


def test_item_of_a_deleted_connection_is_reported_failed_not_retried() -> None:
    settled = settle("accept", ItemFailure("InvalidVpcEndpointId.NotFound", "gone"), None)

    assert (settled.result, settled.retry) == ("failed", False)
    assert settled.error == "InvalidVpcEndpointId.NotFound: gone"


def test_unsuccessful_items_are_read_by_endpoint() -> None:
    unsuccessful: list[dict[str, Any]] = [
        {"ResourceId": "vpce-00000001", "Error": {"Code": "InvalidState", "Message": "m"}},
        {"ResourceId": "vpce-00000002", "Error": {}},
        {"Error": {"Code": "NoResource"}},
    ]

    assert failures_of(unsuccessful) == {
        "vpce-00000001": ItemFailure("InvalidState", "m"),
        "vpce-00000002": ItemFailure("Unknown", ""),
    }
