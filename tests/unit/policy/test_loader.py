"""Loading policy files and folders: what is read, what is skipped, lines and caching."""

from __future__ import annotations

from pathlib import Path

import pytest

from acceptor.policy.errors import PolicyValidationError, Problem
from acceptor.policy.loader import cached_policy, load_policy

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
VALID = "tests/fixtures/policies/valid/folder"
EXAMPLES = sorted((ROOT / "policies" / "examples").glob("*.yaml"))

SMALL_POLICY = """\
version: 1
services: ["*"]
rules:
  - name: anyone-in-us-east-1
    decision: accept
    when: {regions: [us-east-1]}
"""


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths are shown as the user gave them: relative paths keep messages readable.
    monkeypatch.chdir(ROOT)


def test_load_starter_policy_holds_every_service_with_no_rules() -> None:
    policy = load_policy(["policies"])

    (document,) = policy.documents
    assert document.path == "policies/acceptor.yaml"
    assert document.model.services == ["*"]
    assert document.model.default == "hold"
    assert document.model.rules == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_load_each_shipped_example_on_its_own_is_valid(example: Path) -> None:
    policy = load_policy([example])

    assert len(policy.documents) == 1
    assert policy.documents[0].model.rules


def test_load_examples_folder_together_with_starter_is_valid() -> None:
    policy = load_policy(["policies", "policies/examples"])

    assert [d.path for d in policy.documents] == sorted(
        ["policies/acceptor.yaml", *(f"policies/examples/{p.name}" for p in EXAMPLES)]
    )


def test_load_folder_reads_yaml_yml_and_json_but_not_subfolders_hidden_or_other_files() -> None:
    policy = load_policy([VALID])

    assert [d.path for d in policy.documents] == [
        f"{VALID}/acceptor.yaml",
        f"{VALID}/extra.yml",
        f"{VALID}/policy.json",
    ]


def test_load_records_the_line_of_each_rule_in_yaml_and_in_tab_indented_json() -> None:
    policy = load_policy([VALID])

    lines = {d.path.rsplit("/", 1)[1]: dict(d.rule_lines) for d in policy.documents}
    assert lines["acceptor.yaml"] == {"payments-prod": 7, "no-sandboxes": 12}
    assert lines["policy.json"] == {"json-rule": 6}


def test_load_json_keeps_json_string_escapes() -> None:
    policy = load_policy([f"{VALID}/policy.json"])

    (rule,) = policy.documents[0].model.rules
    assert rule.when.tags == {"cost/center": "été"}


def test_load_notify_may_name_a_channel_defined_in_another_file() -> None:
    policy = load_policy([f"{VALID}/extra.yml", f"{VALID}/policy.json"])

    assert set(policy.channels) == {"ops"}


def test_load_a_file_given_twice_loads_it_once() -> None:
    policy = load_policy([VALID, f"{VALID}/acceptor.yaml"])

    assert len(policy.documents) == 3


def test_load_missing_path_is_a_problem_without_a_line() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        load_policy(["policies/nope.yaml"])

    assert raised.value.problems == (Problem("policies/nope.yaml", None, "no such file or folder"),)


def test_load_without_paths_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        load_policy([])


def test_load_refuses_a_bare_string_that_would_be_read_letter_by_letter() -> None:
    with pytest.raises(TypeError, match="a list of paths"):
        load_policy("policies")


def test_load_shows_paths_as_given_absolute_or_relative(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("version: 1\n")

    with pytest.raises(PolicyValidationError) as raised:
        load_policy([tmp_path])

    (problem,) = raised.value.problems
    assert problem.path == str(tmp_path / "broken.yaml")


def test_version_hash_ignores_comments_and_layout(tmp_path: Path) -> None:
    flow, block = tmp_path / "flow", tmp_path / "block"
    flow.mkdir()
    block.mkdir()
    (flow / "acceptor.yaml").write_text(SMALL_POLICY)
    block_style = SMALL_POLICY.replace(
        "when: {regions: [us-east-1]}", "when:\n      regions:\n        - us-east-1  # why"
    )
    assert "- us-east-1  # why" in block_style
    (block / "acceptor.yaml").write_text("# a comment\n" + block_style)

    assert load_policy([flow]).version_hash == load_policy([block]).version_hash


def test_version_hash_changes_when_a_rule_changes(tmp_path: Path) -> None:
    file = tmp_path / "acceptor.yaml"
    file.write_text(SMALL_POLICY)
    before = load_policy([file]).version_hash

    file.write_text(SMALL_POLICY.replace("us-east-1", "us-west-2"))

    assert load_policy([file]).version_hash != before


class TestCachedPolicy:
    @pytest.fixture(autouse=True)
    def _fresh_cache(self) -> None:
        cached_policy.cache_clear()

    def test_cached_policy_loads_once_until_the_cache_is_cleared(self, tmp_path: Path) -> None:
        file = tmp_path / "acceptor.yaml"
        file.write_text(SMALL_POLICY)
        first = cached_policy(str(file))

        file.write_text(SMALL_POLICY.replace("us-east-1", "us-west-2"))

        assert cached_policy(str(file)) is first
        cached_policy.cache_clear()
        assert cached_policy(str(file)).version_hash != first.version_hash

    def test_cached_policy_never_caches_an_invalid_policy(self, tmp_path: Path) -> None:
        file = tmp_path / "acceptor.yaml"
        file.write_text("version: 1\n")
        with pytest.raises(PolicyValidationError):
            cached_policy(str(file))

        file.write_text(SMALL_POLICY)

        assert len(cached_policy(str(file)).documents) == 1
