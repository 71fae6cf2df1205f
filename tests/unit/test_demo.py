"""The policy demo (`make demo-policy`): it plays every example fact set against the shipped
policies and prints the evaluator's real decisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acceptor.policy.evaluate import evaluate
from acceptor.policy.facts import Facts
from acceptor.policy.loader import load_policy
from acceptor_tools import demo

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / demo.FACTS_FOLDER


def test_demo_prints_the_evaluators_decision_and_reason_for_every_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = demo.main([], root=ROOT)

    out = capsys.readouterr().out
    assert code == 0, out
    blocks = out.split("\n[")[1:]
    assert len(blocks) == len(demo.SCENARIOS)
    for block, scenario in zip(blocks, demo.SCENARIOS, strict=True):
        facts = Facts.from_json((FACTS / scenario.facts).read_text(encoding="utf-8"))
        expected = evaluate(load_policy([os.path.relpath(ROOT / scenario.policy)]), facts)
        flat = " ".join(block.split())
        assert scenario.title in block
        assert f"decision: {expected.decision}" in flat
        assert " ".join(expected.reason.split()) in flat
        for outcome in expected.rules:
            if outcome.status != "unmatched":
                assert f"{outcome.status} {outcome.decision} {outcome.name}" in flat


def test_demo_covers_accept_reject_hold_and_ignore() -> None:
    shown = {demo.decide(s, ROOT).evaluation.decision for s in demo.SCENARIOS}

    assert shown == {"accept", "reject", "hold", "ignore"}


def test_demo_hold_without_consumer_role_names_the_missing_facts() -> None:
    scenario = next(s for s in demo.SCENARIOS if s.facts == "no-consumer-role.json")

    result = demo.decide(scenario, ROOT)

    assert result.evaluation.decision == "hold"
    assert "tags" in result.evaluation.missing_facts
    assert "no consumer role" in result.evaluation.reason


def test_every_example_fact_set_is_valid_and_played_by_the_demo() -> None:
    files = sorted(path.name for path in FACTS.glob("*.json"))

    for name in files:
        Facts.from_mapping(json.loads((FACTS / name).read_text(encoding="utf-8")))
    assert set(files) == {scenario.facts for scenario in demo.SCENARIOS}


def test_demo_reports_a_scenario_whose_decision_drifted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = demo.SCENARIOS[0]
    drifted = demo.Scenario(first.title, first.facts, first.policy, "reject")
    monkeypatch.setattr(demo, "SCENARIOS", (drifted,))

    code = demo.main([], root=ROOT)

    assert code == 1
    assert "UNEXPECTED: this scenario is meant to show reject" in capsys.readouterr().out


def test_demo_runs_as_a_module() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "acceptor_tools.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.count("decision: ") == len(demo.SCENARIOS)
