from __future__ import annotations

import pytest

from acceptor.security_groups.triggers import DECIDED, STATE_CHANGED, Trigger, operation_for


@pytest.mark.parametrize(
    ("decision", "result", "state", "expected"),
    [
        ("accept", "succeeded", "pending", "add"),
        ("accept", "dry-run", "pendingAcceptance", "add"),
        ("accept", "skipped", "available", "add"),
        ("accept", "skipped", "rejected", None),
        ("accept", "failed", "pendingAcceptance", None),
        ("reject", "succeeded", "rejected", "remove"),
        ("reject", "dry-run", "available", "remove"),
        ("reject", "skipped", "rejected", "remove"),
        ("reject", "failed", "available", None),
        ("hold", "skipped", "pendingAcceptance", None),
        ("ignore", "skipped", "pendingAcceptance", None),
    ],
)
def test_decided_events_map_to_an_operation_only_when_the_action_happened(
    decision: str, result: str, state: str, expected: str | None
) -> None:
    operation, reason = operation_for(Trigger(DECIDED, decision, result, state))

    assert operation == expected
    assert reason


@pytest.mark.parametrize(
    ("state", "expected"),
    [("rejected", "remove"), ("deleted", "remove"), ("available", None), ("pending", None)],
)
def test_state_changes_that_end_a_connection_remove_our_rules(
    state: str, expected: str | None
) -> None:
    assert operation_for(Trigger(STATE_CHANGED, state=state))[0] == expected


def test_an_unknown_detail_type_does_nothing() -> None:
    operation, reason = operation_for(Trigger("Something Else"))

    assert operation is None
    assert "not an event" in reason
