"""`acceptor policy explain`: JSON and text output, facts from a file or stdin, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from acceptor.contract import DecidedDetail
from acceptor_tools.cli import main

POLICY = """\
version: 1
services: [vpce-svc-0123456789abcdef0]
default: hold
rules:
  - name: payments-prod
    decision: accept
    when:
      accounts: ["111122223333"]
  - name: no-sandboxes
    decision: reject
    when:
      tags: {env: sandbox}
"""

FACTS: dict[str, Any] = {
    "service_id": "vpce-svc-0123456789abcdef0",
    "endpoint_id": "vpce-0a1b2c3d4e5f60718",
    "account": "111122223333",
    "region": "us-east-1",
    "vpc_id": "vpc-0abc1234def567890",
    "tags": {"env": "prod"},
    "vpc_tags": {},
    "ou_path": ["r-ab12", "ou-ab12-11111111"],
}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "acceptor.yaml").write_text(POLICY, encoding="utf-8")
    return folder


def write_facts(tmp_path: Path, facts: dict[str, Any]) -> Path:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    return path


def run(*argv: str) -> int:
    return main(["policy", "explain", *argv])


def test_explain_json_prints_decision_reason_missing_facts_and_rules(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path, {**FACTS, "tags": None})

    code = run("--policy", str(policy_dir), "--facts", str(facts), "--json")

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["decision"] == "hold"
    assert out["rule"] == "no-sandboxes"
    assert out["missing_facts"] == ["tags"]
    assert "tags is unknown (not given in the facts file)" in out["reason"]
    assert [(r["name"], r["decision"], r["status"]) for r in out["rules"]] == [
        ("payments-prod", "accept", "matched"),
        ("no-sandboxes", "reject", "unknown"),
    ]
    assert out["rules"][1]["file"] == f"{policy_dir}/acceptor.yaml"
    assert out["rules"][1]["line"] == 9
    assert out["facts"]["account"] == "111122223333"
    assert len(out["policy_hash"]) == 16


def test_explain_text_shows_decision_reason_and_a_table_of_rules(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path, {**FACTS, "tags": {"env": "sandbox"}})

    code = run("--policy", str(policy_dir), "--facts", str(facts))

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "decision:      reject"
    assert out[1] == (
        f'reason:        Rejected by rule "no-sandboxes" ({policy_dir}/acceptor.yaml:9): '
        "all of its conditions hold."
    )
    assert out[2] == "missing facts: none"
    rows = [line.split() for line in out[out.index("rules:") + 1 :]]
    assert [row[:3] for row in rows] == [
        ["STATUS", "DECISION", "RULE"],
        ["matched", "accept", "payments-prod"],
        ["matched", "reject", "no-sandboxes"],
    ]


def test_explain_reads_facts_from_stdin(
    policy_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(FACTS)))

    code = run("--policy", str(policy_dir), "--facts", "-", "--json")

    assert code == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "accept"


def test_explain_of_a_service_no_file_governs_says_ignore(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path, {**FACTS, "service_id": "vpce-svc-0fedcba9876543210"})

    code = run("--policy", str(policy_dir), "--facts", str(facts))

    out = capsys.readouterr().out
    assert code == 0
    assert "decision:      ignore" in out
    assert "none (no policy file governs vpce-svc-0fedcba9876543210)" in out


def test_explain_invalid_policy_exits_1_with_path_line_problems(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = POLICY.replace('accounts: ["111122223333"]', "accounts: [111122223333]")
    (policy_dir / "acceptor.yaml").write_text(broken, encoding="utf-8")
    facts = write_facts(tmp_path, FACTS)

    code = run("--policy", str(policy_dir), "--facts", str(facts), "--json")

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err.startswith(f"{policy_dir}/acceptor.yaml:8: ")


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({**FACTS, "account": 111122223333}, "facts.json: account: "),
        ({**FACTS, "colour": "blue"}, "facts.json: colour: unknown key"),
        ({k: v for k, v in FACTS.items() if k != "service_id"}, "facts.json: service_id: "),
    ],
    ids=["numeric-account", "unknown-key", "no-service-id"],
)
def test_explain_bad_facts_file_exits_1_naming_the_field(
    facts: dict[str, Any],
    expected: str,
    policy_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_facts(tmp_path, facts)

    code = run("--policy", str(policy_dir), "--facts", str(path))

    assert code == 1
    assert expected in capsys.readouterr().err


def test_explain_facts_that_are_not_json_exit_1(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "facts.json"
    path.write_text("{account: 1", encoding="utf-8")

    code = run("--policy", str(policy_dir), "--facts", str(path))

    assert code == 1
    assert "facts.json: line 1: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--policy", "{policies}"],
        ["--policy", "{policies}", "--facts", "{missing}"],
        ["--policy", "{missing}", "--facts", "{facts}"],
        ["--policy", "{policies}", "--facts", "{facts}", "--colour"],
    ],
    ids=["no-facts-option", "facts-file-missing", "policy-missing", "unknown-option"],
)
def test_explain_usage_errors_exit_2(
    argv: list[str], policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path, FACTS)
    paths = {"policies": policy_dir, "missing": tmp_path / "nowhere", "facts": facts}
    filled = [arg.format(**paths) for arg in argv]

    try:
        code = run(*filled)
    except SystemExit as exit_:
        code = int(str(exit_.code))

    assert code == 2
    assert "error" in capsys.readouterr().err


HOLDING_POLICY = POLICY.replace("default: hold\n", "default: hold\nhold:\n  expires_after: 72h\n")


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_explain_jsonl_prints_one_decision_record_per_fact_set(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_lines(
        tmp_path,
        [json.dumps(FACTS), json.dumps({**FACTS, "tags": {"env": "sandbox"}})],
    )

    code = run("--policy", str(policy_dir), "--facts", str(facts), "--json")

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(r["decision"], r["rule"]) for r in records] == [
        ("accept", "payments-prod"),
        ("reject", "no-sandboxes"),
    ]
    # The record Decide writes: every field of the Decided detail, the facts, the kind.
    assert set(DecidedDetail.model_fields) | {"kind", "facts"} == set(records[0])
    assert records[0]["action"] == {"type": "accept", "result": "dry-run", "error": None}
    assert records[1]["rules_unmatched"] == 0
    assert records[0]["facts"]["account"] == "111122223333"


def test_explain_jsonl_reports_bad_lines_as_file_line_and_goes_on(
    policy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_lines(
        tmp_path,
        [
            json.dumps(FACTS),
            "{not json",
            json.dumps({**FACTS, "account": 111122223333}),
            json.dumps({**FACTS, "now": "yesterday"}),
            json.dumps({**FACTS, "tags": {"env": "sandbox"}}),
        ],
    )

    code = run("--policy", str(policy_dir), "--facts", str(facts), "--json")

    captured = capsys.readouterr()
    assert code == 1
    assert [json.loads(line)["decision"] for line in captured.out.splitlines()] == [
        "accept",
        "reject",
    ]
    errors = captured.err.splitlines()
    assert [line.split(": ", 1)[0] for line in errors] == [
        f"{facts}:2",
        f"{facts}:3",
        f"{facts}:4",
    ]
    assert "not valid JSON" in errors[0]
    assert "account" in errors[1]
    assert "now: not an ISO 8601 time" in errors[2]


def test_explain_with_created_at_and_now_says_when_a_hold_turns_into_a_reject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a policy whose holds expire after 72h, and a request made 10h before `now`
    (tmp_path / "p.yaml").write_text(HOLDING_POLICY, encoding="utf-8")
    when = {"created_at": "2025-03-01T00:00:00Z", "now": "2025-03-01T10:00:00Z"}
    facts = write_facts(tmp_path, {**FACTS, "account": "999900001111", **when})

    # When it is explained as text and as JSON
    text_code = run("--policy", str(tmp_path / "p.yaml"), "--facts", str(facts))
    text = capsys.readouterr().out
    json_code = run("--policy", str(tmp_path / "p.yaml"), "--facts", str(facts), "--json")
    out = json.loads(capsys.readouterr().out)

    # Then both say it is held until 72h after it was made, and then rejected
    assert (text_code, json_code) == (0, 0)
    assert "hold expires:  2025-03-04T00:00:00+00:00 (then the hold turns into a reject)" in text
    assert (out["decision"], out["hold_expires_at"]) == ("hold", "2025-03-04T00:00:00+00:00")


def test_explain_after_the_hold_expired_rejects_as_decide_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text(HOLDING_POLICY, encoding="utf-8")
    when = {"created_at": "2025-03-01T00:00:00Z", "now": "2025-03-05T00:00:00Z"}
    facts = write_lines(tmp_path, [json.dumps({**FACTS, "account": "999900001111", **when})])

    code = run("--policy", str(tmp_path / "p.yaml"), "--facts", str(facts), "--json")

    record = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (record["decision"], record["action"]["type"]) == ("reject", "reject")
    assert record["hold_expires_at"] == "2025-03-04T00:00:00Z"
    assert "hold.expires_after (3d" in record["reason"]


def test_explain_without_created_at_reports_no_hold_expiry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text(HOLDING_POLICY, encoding="utf-8")
    facts = write_facts(tmp_path, {**FACTS, "account": "999900001111"})

    code = run("--policy", str(tmp_path / "p.yaml"), "--facts", str(facts), "--json")

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["decision"], out["hold_expires_at"]) == ("hold", None)
