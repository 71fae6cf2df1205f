"""The JSON Schema: committed copy up to date, valid 2020-12, and agreeing with the validator on
every shipped policy and every invalid fixture it can express."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from acceptor.policy.schema import REGENERATE, SCHEMA_FILE, policy_schema, render_schema

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
INVALID = ROOT / "tests/fixtures/policies/invalid"
SHIPPED = sorted([*ROOT.glob("policies/*.yaml"), *ROOT.glob("policies/examples/*.yaml")])
VALID_FIXTURES = sorted(
    p
    for p in (ROOT / "tests/fixtures/policies/valid/folder").iterdir()
    if p.suffix in {".yaml", ".yml", ".json"} and not p.name.startswith(".")
)

# Invalid fixtures a JSON Schema cannot reject, and why. Those that parse are checked to be
# accepted: once the schema can express one, the test says to remove it from this list.
EXEMPT: dict[str, str] = {
    "duplicate-key.yaml": "YAML keeps the last of two equal keys before any schema sees them",
    "yaml-syntax-error.yaml": "not YAML: nothing to validate",
    "yaml-unclosed-list.yaml": "not YAML: nothing to validate",
    "alias-bomb.yaml": "refused before any schema sees it: its aliases expand without bound",
    "json-syntax-error.json": "not JSON: nothing to validate",
    "not-utf8.yaml": "not text: nothing to validate",
    "unknown-channel.yaml": "notify names a channel defined elsewhere: a cross-reference",
}
UNPARSEABLE = {
    "yaml-syntax-error.yaml",
    "yaml-unclosed-list.yaml",
    "alias-bomb.yaml",
    "json-syntax-error.json",
    "not-utf8.yaml",
}


def read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(policy_schema())


def test_committed_schema_equals_the_generated_one() -> None:
    committed = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")

    assert committed == render_schema(), f"{SCHEMA_FILE} is out of date; run: {REGENERATE}"


def test_schema_is_a_valid_draft_2020_12_schema_with_an_id() -> None:
    schema = policy_schema()

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]


def test_schema_closes_every_object_against_unknown_keys() -> None:
    def objects(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, list):
            return [found for item in node for found in objects(item)]
        if not isinstance(node, dict):
            return []
        own = [node] if node.get("type") == "object" else []
        return own + [found for value in node.values() for found in objects(value)]

    for schema in objects(policy_schema()):
        assert "additionalProperties" in schema, schema


@pytest.mark.parametrize("path", SHIPPED + VALID_FIXTURES, ids=lambda p: p.name)
def test_schema_accepts_every_shipped_policy_and_valid_fixture(
    path: Path, validator: Draft202012Validator
) -> None:
    errors = [error.message for error in validator.iter_errors(read(path))]

    assert errors == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_policy_points_editors_at_the_committed_schema(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="

    assert first_line.startswith(prefix)
    target = (path.parent / first_line.removeprefix(prefix)).resolve()
    assert target == (ROOT / SCHEMA_FILE).resolve()


EXPRESSIBLE = sorted(
    p
    for p in INVALID.iterdir()
    if p.is_file() and p.suffix in {".yaml", ".json"} and p.name not in EXEMPT
)


@pytest.mark.parametrize("path", EXPRESSIBLE, ids=lambda p: p.name)
def test_schema_rejects_every_invalid_fixture_it_can_express(
    path: Path, validator: Draft202012Validator
) -> None:
    assert not validator.is_valid(read(path))


@pytest.mark.parametrize("name", sorted(set(EXEMPT) - UNPARSEABLE))
def test_exempt_fixture_is_really_beyond_the_schema(
    name: str, validator: Draft202012Validator
) -> None:
    assert validator.is_valid(read(INVALID / name)), f"the schema rejects {name}: un-exempt it"


def test_exemptions_name_existing_fixtures() -> None:
    assert all((INVALID / name).is_file() for name in EXEMPT)
