"""The replay report tells when a hold ends and what follows (docs/replay.md)."""

from __future__ import annotations

import pytest

from acceptor_tools.replay.engine import ReplayLog
from acceptor_tools.replay.report import ConnectionReport, Report, render_text

pytestmark = pytest.mark.disable_socket


def _report(connection: ConnectionReport) -> Report:
    return Report(
        connections=[connection],
        dead_letters=[],
        unrouted=[],
        failed_calls=[],
        other_group_changes=[],
        log=ReplayLog(),
    )


def _held(expires_at: str | None) -> ConnectionReport:
    return ConnectionReport(
        endpoint_id="vpce-0a1b2c3d4e5f60718",
        decision="hold",
        reason="Held: rule no-sandboxes cannot be ruled out because tags are unknown.",
        missing_facts=["tags"],
        hold_expires_at=expires_at,
    )


def test_a_hold_with_an_expiry_says_when_it_turns_into_a_reject() -> None:
    text = render_text(_report(_held("2026-12-08T10:00:00+00:00")))

    assert (
        "  expires   2026-12-08T10:00:00+00:00: then the hold turns into a reject, unless a "
        "person decides first"
    ) in text.splitlines()


def test_a_hold_says_what_it_means_and_how_to_release_it() -> None:
    lines = render_text(_report(_held(None))).splitlines()

    held = "held: nobody accepted or rejected it; it waits in pendingAcceptance for a person"
    assert f"  hold      {held}" in lines
    assert any(
        "release it: acceptor approve|reject ENDPOINT --reason TEXT" in line for line in lines
    )


def test_a_hold_without_an_expiry_says_it_waits_for_a_person() -> None:
    text = render_text(_report(_held(None)))

    assert any(
        line.startswith("  expires   never: no governing file sets hold.expires_after")
        for line in text.splitlines()
    )


def test_an_accept_has_no_expiry_line() -> None:
    accepted = ConnectionReport(endpoint_id="vpce-0a1b2c3d4e5f60718", decision="accept")

    assert "expires" not in render_text(_report(accepted))
