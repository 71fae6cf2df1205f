"""Reading facts files (docs/architecture.md, "Facts file"): absent or null is unknown, {} is
known-empty, and every bad field is named."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from acceptor.policy.facts import NOT_IN_FACTS_FILE, Facts, FactsError

DESIGN_EXAMPLE: dict[str, Any] = {
    "service_id": "vpce-svc-0123456789abcdef0",
    "endpoint_id": "vpce-0a1b2c3d4e5f60718",
    "account": "111122223333",
    "region": "us-east-1",
    "vpc_id": "vpc-0abc1234def567890",
    "tags": {"env": "prod"},
    "vpc_tags": {},
    "ou_path": ["r-ab12", "ou-ab12-11111111"],
}


def problems_of(data: Any) -> list[str]:
    with pytest.raises(FactsError) as caught:
        Facts.from_mapping(data)
    return [str(problem) for problem in caught.value.problems]


def test_design_example_reads_every_fact_as_known() -> None:
    facts = Facts.from_mapping(DESIGN_EXAMPLE)

    assert facts.account == "111122223333"
    assert facts.tags == {"env": "prod"}
    assert facts.vpc_tags == {}
    assert facts.ou_path == ("r-ab12", "ou-ab12-11111111")
    assert facts.unknown == frozenset()
    assert facts.to_dict() == DESIGN_EXAMPLE


@pytest.mark.parametrize("how", ["absent", "null"])
def test_absent_or_null_fact_is_unknown_with_a_reason(how: str) -> None:
    data = dict(DESIGN_EXAMPLE)
    if how == "absent":
        del data["tags"]
    else:
        data["tags"] = None

    facts = Facts.from_mapping(data)

    assert facts.tags is None
    assert facts.unknown == {"tags"}
    assert facts.why_unknown("tags") == NOT_IN_FACTS_FILE


def test_empty_tags_are_known_and_not_unknown() -> None:
    facts = Facts.from_mapping({**DESIGN_EXAMPLE, "tags": {}})

    assert facts.tags == {}
    assert "tags" not in facts.unknown


def test_unknown_reasons_in_the_file_explain_unknown_facts() -> None:
    data = {k: v for k, v in DESIGN_EXAMPLE.items() if k not in ("vpc_id", "tags", "vpc_tags")}
    data["unknown_reasons"] = {"tags": "no consumer role configured"}

    facts = Facts.from_mapping(data)

    assert facts.why_unknown("tags") == "no consumer role configured"
    assert facts.why_unknown("vpc_id") == NOT_IN_FACTS_FILE
    assert facts.to_dict()["unknown_reasons"] == {
        "vpc_id": NOT_IN_FACTS_FILE,
        "tags": "no consumer role configured",
        "vpc_tags": NOT_IN_FACTS_FILE,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"service_id": None}, "service_id: Input should be a valid string"),
        ({"colour": "blue"}, "colour: unknown key; a facts file has only service_id,"),
        ({"account": 111122223333}, "account: 111122223333 is a number"),
        ({"account": "11112222333"}, "account: '11112222333' is not a 12-digit AWS account ID"),
        ({"vpc_id": "vpc-xyz"}, "vpc_id: 'vpc-xyz' is not a VPC ID"),
        ({"endpoint_id": "vpce-svc-0123456789abcdef0"}, "endpoint_id: 'vpce-svc-"),
        ({"service_id": "vpce-0a1b2c3d4e5f60718"}, "service_id: 'vpce-0a1b2c3d4e5f60718' is not"),
        ({"region": "Mars"}, "region: 'Mars' is not an AWS region name"),
        ({"ou_path": ["r-ab12", "ou-bad"]}, "ou_path[1]: 'ou-bad' is not an organization root"),
        ({"ou_path": "r-ab12"}, "ou_path: Input should be a valid list"),
        ({"tags": {"env": 1}}, "tags.env: Input should be a valid string"),
        ({"vpc_tags": ["tier"]}, "vpc_tags: Input should be a valid dictionary"),
        ({"unknown_reasons": {"colour": "x"}}, "unknown_reasons.colour (the key): Input should be"),
        ({"unknown_reasons": {"tags": "no role"}}, "unknown_reasons.tags: tags is given"),
    ],
)
def test_bad_field_is_named_in_the_error(change: dict[str, Any], expected: str) -> None:
    problems = problems_of({**DESIGN_EXAMPLE, **change})

    assert any(problem.startswith(expected) for problem in problems), problems


def test_missing_service_id_is_required() -> None:
    data = {k: v for k, v in DESIGN_EXAMPLE.items() if k != "service_id"}

    assert problems_of(data) == ["service_id: required: the endpoint service ID the request is for"]


def test_every_bad_field_is_reported_at_once() -> None:
    problems = problems_of({**DESIGN_EXAMPLE, "account": "1", "region": "x", "extra": 1})

    assert [problem.split(":")[0] for problem in problems] == ["account", "region", "extra"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "line 1: not valid JSON"),
        ('["a list"]', "(top level): a facts file is one JSON object"),
    ],
)
def test_facts_text_that_is_not_a_json_object_is_refused(text: str, expected: str) -> None:
    with pytest.raises(FactsError) as caught:
        Facts.from_json(text)

    assert str(caught.value).startswith(expected)


def test_facts_do_not_change_when_the_callers_dict_does() -> None:
    tags = {"env": "prod"}
    facts = Facts(service_id="vpce-svc-0123456789abcdef0", tags=tags)

    tags["env"] = "sandbox"

    assert facts.tags == {"env": "prod"}
    with pytest.raises(TypeError):
        facts.tags["env"] = "sandbox"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.account = "111122223333"  # type: ignore[misc]


def test_reason_for_a_fact_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        Facts(service_id="vpce-svc-0123456789abcdef0", unknown_reasons={"colour": "x"})
