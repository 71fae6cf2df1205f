"""`acceptor replay` with a per-account limit: a consumer at its limit gets its third endpoint
held, counted from EC2's connections (docs/replay.md, "A consumer at its limit")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from replay_helpers import EVENTS, TEMPLATE

from acceptor_tools.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.disable_socket]

LIMITS = Path(__file__).parent / "fixtures" / "limits"
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"


@pytest.mark.slow
def test_replay_holds_the_third_endpoint_of_a_consumer_with_a_limit_of_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a world where one account requests three endpoints to a service whose policy
    # accepts it with `limits: {per_account: 2, over_limit: hold}`
    arguments = [
        "replay",
        str(EVENTS / "reconcile-schedule.json"),  # the sweep finds the three requests
        "--policy",
        str(LIMITS / "policy.yaml"),
        "--world",
        str(LIMITS / "world.yaml"),
        "--template",
        str(TEMPLATE),
        "--outbox",
        str(tmp_path / "out"),
        "--json",
    ]

    # When the replay runs
    code = main(arguments)

    # Then the first two are accepted by the rule and the third is held by the limit
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    connections = {line["endpoint_id"]: line for line in lines if line["kind"] == "connection"}
    assert {e: (c["decision"], c["state_after"]) for e, c in connections.items()} == {
        "vpce-0000000000000a001": ("accept", "available"),
        "vpce-0000000000000a002": ("accept", "available"),
        "vpce-0000000000000a003": ("hold", "pendingAcceptance"),
    }
    third = connections["vpce-0000000000000a003"]
    assert third["reason"].startswith(
        f"Held: account 111122223333 has 3 connections to {SERVICE} (this request included), "
        "over the limit of 2 per account"
    )
    assert lines[-1]["decisions"] == {"accept": 2, "hold": 1}
