"""`acceptor replay` and `acceptor policy diff` as a person or a pipeline runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from replay_helpers import DEMO_POLICY, EVENTS, TEMPLATE, WORLD

from acceptor_tools.cli import main
from acceptor_tools.replay.engine import ReplayLog
from acceptor_tools.replay.report import ConnectionReport, PathDisplay, Report
from acceptor_tools.replay.run import Change, decision_changes

pytestmark = [pytest.mark.e2e, pytest.mark.disable_socket]

CONNECTION_FIELDS = {
    "endpoint_id",
    "service_id",
    "account",
    "decision",
    "rules",
    "state_after",
    "actions",
}


def _common(outbox: Path) -> list[str]:
    return ["--template", str(TEMPLATE), "--world", str(WORLD), "--outbox", str(outbox)]


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.slow
def test_replay_json_lines_carry_the_documented_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(EVENTS / "decide-sqs-batch.json"), str(EVENTS / "ingest-sns-unparseable.json")]

    code = main(
        [
            "replay",
            *files,
            "--policy",
            str(DEMO_POLICY),
            "--json",
            "-v",
            *_common(tmp_path / "out"),
        ]
    )

    captured = capsys.readouterr()
    lines = _lines(captured.out)
    assert code == 0
    connections = [line for line in lines if line["kind"] == "connection"]
    assert len(connections) == 5
    assert all(set(line) >= CONNECTION_FIELDS for line in connections)
    (dead,) = [line for line in lines if line["kind"] == "dead-letter"]
    assert dead["queue"] == "IngestDeadLetterQueue"
    assert "redacted" in dead["message"]  # the body of the message nobody could read
    assert lines[-1]["kind"] == "summary"
    assert lines[-1]["decisions"] == {"accept": 3, "reject": 1, "hold": 1}
    assert "DecideFunction <- SQS" in captured.err  # -v: the plumbing, off stdout
    assert (tmp_path / "out" / "logs" / "IngestFunction.log").exists()


def test_replay_refuses_an_invalid_policy_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\nservices: ['*']\ndefault: maybe\nrules: []\n")

    code = main(["replay", "--policy", str(policy), *_common(tmp_path / "out")])

    assert code == 1
    assert f"{policy}:3:" in capsys.readouterr().err


def test_replay_refuses_a_parameter_without_a_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["replay", "--policy", str(DEMO_POLICY), "--parameter", "DryRun"]

    code = main([*arguments, *_common(tmp_path / "out")])

    assert code == 1
    assert "--parameter 'DryRun': expected NAME=VALUE" in capsys.readouterr().err


def test_replay_refuses_an_event_file_of_unknown_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": "world"}')

    code = main(["replay", str(odd), "--policy", str(DEMO_POLICY), *_common(tmp_path / "out")])

    assert code == 1
    assert (
        "odd.json: not an SNS, SQS, scheduled, EventBridge or function URL event"
        in capsys.readouterr().err
    )


def _report(*connections: ConnectionReport) -> Report:
    return Report(
        connections=list(connections),
        dead_letters=[],
        unrouted=[],
        failed_calls=[],
        other_group_changes=[],
        log=ReplayLog(quiet=True),
    )


def test_decision_changes_lists_only_the_connections_whose_decision_differs() -> None:
    old = _report(
        ConnectionReport("vpce-0000000000000000a", account="111122223333", decision="accept"),
        ConnectionReport("vpce-0000000000000000b", account="444455556666", decision="reject"),
    )
    new = _report(
        ConnectionReport("vpce-0000000000000000a", account="111122223333", decision="accept"),
        ConnectionReport(
            "vpce-0000000000000000b", account="444455556666", decision="hold", rule="review"
        ),
        ConnectionReport("vpce-0000000000000000c", account="777788889999", decision="hold"),
    )

    assert decision_changes(old, new) == [
        Change("vpce-0000000000000000b", "444455556666", "reject", "hold", None, "review"),
        Change("vpce-0000000000000000c", "777788889999", None, "hold", None, None),
    ]


@pytest.mark.slow
def test_policy_diff_names_the_decision_a_policy_change_turns_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(
        DEMO_POLICY.read_text().replace(
            "  - name: no-sandboxes\n    decision: reject",
            "  - name: no-sandboxes\n    decision: hold",
        )
    )
    assert new.read_text() != DEMO_POLICY.read_text()

    code = main(
        ["policy", "diff", str(DEMO_POLICY), str(new), "--json", *_common(tmp_path / "out")]
    )

    (change,) = _lines(capsys.readouterr().out)
    assert code == 1
    assert change == {
        "kind": "decision-change",
        "endpoint_id": change["endpoint_id"],
        "account": "444455556666",
        "before": "reject",
        "after": "hold",
        "rule_before": "no-sandboxes",
        "rule_after": "no-sandboxes",
    }


@pytest.mark.slow
def test_replay_with_diff_prints_the_report_then_the_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = str(EVENTS / "decide-sqs-batch.json")
    arguments = ["replay", batch, "--policy", str(DEMO_POLICY), "--diff", str(DEMO_POLICY)]

    code = main([*arguments, "--quiet", *_common(tmp_path / "out")])

    out = capsys.readouterr().out
    assert code == 0
    summary = "5 connections (3 accept, 1 hold, 1 reject)"
    assert out.index(summary) < out.index("Decisions that change from")
    assert out.rstrip().endswith(f"Decisions that change from {DEMO_POLICY} to {DEMO_POLICY}: none")


def test_a_relative_policy_path_is_shown_as_given_and_an_absolute_one_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mine").mkdir()
    shown = PathDisplay.for_policy(Path("mine/policy.yaml"))
    absolute = str((tmp_path / "mine" / "policy.yaml").resolve())

    assert shown(f'rule "x" ({absolute}:12) matched') == 'rule "x" (mine/policy.yaml:12) matched'
    assert PathDisplay.for_policy(Path(absolute))(absolute) == absolute


@pytest.mark.slow
def test_reasons_name_a_relative_policy_the_way_it_was_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DEMO_POLICY.parent)
    batch = str(EVENTS / "decide-sqs-batch.json")

    code = main(["replay", batch, "--policy", DEMO_POLICY.name, "--json", *_common(tmp_path)])

    lines = _lines(capsys.readouterr().out)
    accepted = [line for line in lines if line.get("decision") == "accept"]
    assert code == 0
    assert accepted
    for line in accepted:
        assert f"({DEMO_POLICY.name}:" in line["reason"]
        assert {rule["file"] for rule in line["rules"]} == {DEMO_POLICY.name}
    outbox = "".join(p.read_text() for p in tmp_path.glob("*.txt"))
    assert f"({DEMO_POLICY.name}:" in outbox
    assert str(DEMO_POLICY.parent) not in outbox
