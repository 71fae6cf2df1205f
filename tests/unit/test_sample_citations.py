"""The decisions the sample events of events/ carry agree with a real policy and the demo world:
every rule they name exists in the file they cite, at the line their reasons cite, with the
decision they give it; and a rule they say matched does match the endpoint they name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acceptor.policy.loader import load_policy
from acceptor.policy.model import Rule
from acceptor.policy.policy_set import PolicyDocument
from acceptor_tools.local_aws.world import World, load_world

pytestmark = pytest.mark.disable_socket

REPOSITORY = Path(__file__).parents[2]
EVENTS = REPOSITORY / "events"
# `rule "payments-prod" (tools/acceptor_tools/replay/demo/policy.yaml:22)`
CITATION = re.compile(r'rule "(?P<rule>[\w.-]+)" \((?P<file>[^():]+):(?P<line>\d+)\)')


def _decided_details() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(EVENTS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else [data]:
            detail = item.get("detail") if isinstance(item, dict) else None
            if isinstance(detail, dict) and "decision" in detail and "rules" in detail:
                yield path.name, detail


DETAILS = list(_decided_details())


def _document(file: str) -> PolicyDocument:
    path = REPOSITORY / file
    assert path.is_file(), f"cites {file}, which is not a file of the repository"
    (document,) = load_policy([path]).documents
    return document


def _rule(document: PolicyDocument, name: str) -> Rule:
    rules = {rule.name: rule for rule in document.model.rules}
    assert name in rules, f"{document.path} has no rule {name!r}"
    return rules[name]


def test_the_samples_carry_decisions_to_check() -> None:
    assert len(DETAILS) >= 8


@pytest.mark.parametrize(("name", "detail"), DETAILS, ids=[name for name, _ in DETAILS])
def test_every_rule_a_sample_names_is_in_the_file_it_cites_with_that_decision(
    name: str, detail: dict[str, Any]
) -> None:
    for cited in detail["rules"]:
        rule = _rule(_document(cited["file"]), cited["name"])
        assert rule.decision == cited["decision"], f"{name}: {cited['name']}"
    if detail["rule"] is not None:
        files = {cited["file"] for cited in detail["rules"]}
        assert any(detail["rule"] in {r.name for r in _document(f).model.rules} for f in files), (
            f"{name}: deciding rule {detail['rule']} is in none of the cited files"
        )


@pytest.mark.parametrize(("name", "detail"), DETAILS, ids=[name for name, _ in DETAILS])
def test_every_file_and_line_a_sample_reason_cites_is_that_rule_s_line(
    name: str, detail: dict[str, Any]
) -> None:
    citations = list(CITATION.finditer(detail["reason"]))

    for citation in citations:
        document = _document(citation["file"])
        _rule(document, citation["rule"])
        assert document.rule_lines[citation["rule"]] == int(citation["line"]), (
            f"{name}: {citation['file']}:{citation['line']} is not rule {citation['rule']}"
        )
    if detail["rule"] is not None:
        assert [c["rule"] for c in citations] == [detail["rule"]], f"{name}: reason cites no rule"


@pytest.mark.parametrize(("name", "detail"), DETAILS, ids=[name for name, _ in DETAILS])
def test_a_rule_a_sample_says_matched_matches_the_demo_world_endpoint_it_names(
    name: str, detail: dict[str, Any]
) -> None:
    world = load_world(EVENTS / "world.yaml")
    account, tags = _endpoint(world, detail["endpoint_id"])
    assert account == detail["account"], f"{name}: the endpoint belongs to {account}"

    for cited in detail["rules"]:
        if cited["status"] != "matched":
            continue
        when = _rule(_document(cited["file"]), cited["name"]).when
        if when.accounts is not None:
            assert account in when.accounts, f"{name}: {cited['name']} cannot match {account}"
        for key, wanted in (when.tags or {}).items():
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            assert key in tags, f"{name}: {cited['name']} needs tag {key}, the endpoint has none"
            assert "*" in values or tags[key] in values, (
                f"{name}: {cited['name']} needs {key} in {values}, the endpoint has {tags[key]}"
            )


def _endpoint(world: World, endpoint_id: str) -> tuple[str, dict[str, str]]:
    for endpoint in world.endpoints:
        if endpoint.id == endpoint_id:
            return endpoint.account, {"Name": endpoint.name, **endpoint.tags}
    raise AssertionError(f"{endpoint_id} is not an endpoint of the demo world")
