"""`acceptor policy test`: passing, failing and broken tests through the real command, the
test-file schema, and the shipped policies' own tests (which cover every rule and default)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor_tools.policy_testing import (
    REGENERATE_TEST_SCHEMA,
    TEST_SCHEMA_FILE,
    find_tests,
    load_test_files,
    policy_test_schema,
    render_test_schema,
    run_tests,
)

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
ACCEPTOR = Path(sys.executable).parent / "acceptor"
SHIPPED = ["policies", "policies/examples"]
SERVICE = "vpce-svc-0123456789abcdef0"
POLICY = f"""\
version: 1
services: [{SERVICE}]
default: reject
limits: {{per_account: 2, over_limit: hold}}
rules:
  - name: payments
    decision: accept
    when: {{accounts: ["111122223333"]}}
"""
PASSING = f"""\
- name: payments is accepted
  facts: {{service_id: {SERVICE}, account: "111122223333", connections: 1}}
  expect: {{decision: accept, rule: payments}}
- name: a stranger is rejected
  facts: {{service_id: {SERVICE}, account: "444455556666"}}
  expect: reject
"""
# Line 4: the third connection is over the limit, so the test's accept is wrong.
FAILING = f"""\
- name: payments is accepted
  facts: {{service_id: {SERVICE}, account: "111122223333", connections: 1}}
  expect: accept
- name: a third connection is accepted
  facts: {{service_id: {SERVICE}, account: "111122223333", connections: 3}}
  expect: {{decision: accept, rule: payments}}
"""
# Line 2: an unquoted account ID; line 6: a decision that does not exist.
BROKEN = f"""\
- name: payments is accepted
  facts: {{service_id: {SERVICE}, account: 111122223333}}
  expect: accept
- name: typo
  facts: {{service_id: {SERVICE}}}
  expect: acept
"""


def acceptor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACCEPTOR), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def project(tmp_path: Path, tests: dict[str, str], policy: str = POLICY) -> Path:
    (tmp_path / "policies" / "tests").mkdir(parents=True)
    (tmp_path / "policies" / "payments.yaml").write_text(policy, encoding="utf-8")
    for name, text in tests.items():
        (tmp_path / "policies" / "tests" / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_passing_tests_exit_0_with_a_summary(tmp_path: Path) -> None:
    root = project(tmp_path, {"payments.yaml": PASSING})

    result = acceptor("policy", "test", cwd=root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("policies/tests: 2 tests passed (policy version ")
    assert result.stderr == ""


def test_failing_test_prints_path_line_name_want_got_and_reason_and_exits_1(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, {"payments.yaml": FAILING})

    result = acceptor("policy", "test", "policies", cwd=root)

    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(
        "policies/tests/payments.yaml:4: test a third connection is accepted: "
        "want accept by rule 'payments', got hold by no rule (Held: account 111122223333 has "
        f"3 connections to {SERVICE} (this request included), over the limit of 2 per "
        "account set by policies/payments.yaml."
    )
    assert line.endswith(")")
    assert result.stderr == "1 of 2 tests failed\n"


def test_broken_test_file_is_reported_like_a_policy_error_and_exits_1(tmp_path: Path) -> None:
    root = project(tmp_path, {"broken.yaml": BROKEN, "payments.yaml": PASSING})

    result = acceptor("policy", "test", cwd=root)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "policies/tests/broken.yaml:2: test 'payments is accepted': facts.account: "
        '111122223333 was read by YAML as the number 111122223333; quote it: "111122223333"',
        "policies/tests/broken.yaml:6: test 'typo': expect: the text 'acept' is not allowed "
        "here; use 'accept', 'reject', 'hold' or 'ignore'",
    ]
    assert result.stderr == "2 problems: no test was run\n"


def test_an_invalid_policy_is_reported_and_no_test_runs(tmp_path: Path) -> None:
    root = project(tmp_path, {"payments.yaml": PASSING}, policy=POLICY.replace("2,", "-2,"))

    result = acceptor("policy", "test", cwd=root)

    assert result.returncode == 1
    assert result.stdout.startswith("policies/payments.yaml:4: limits.per_account: -2 is too small")


@pytest.mark.parametrize(
    "path", ["policies", "policies/tests", "policies/tests/payments.yaml", "./policies/"]
)
def test_path_may_be_the_policy_folder_its_tests_folder_or_a_test_file(
    tmp_path: Path, path: str
) -> None:
    root = project(tmp_path, {"payments.yaml": PASSING})

    result = acceptor("policy", "test", path, cwd=root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 tests passed" in result.stdout


def test_a_test_file_given_from_inside_its_folder_finds_the_policy_above(tmp_path: Path) -> None:
    root = project(tmp_path, {"payments.yaml": FAILING})

    result = acceptor("policy", "test", "payments.yaml", cwd=root / "policies" / "tests")

    assert result.returncode == 1
    assert result.stdout.startswith("payments.yaml:4: test a third connection is accepted")


def test_a_path_that_does_not_exist_is_a_usage_error_exit_2(tmp_path: Path) -> None:
    result = acceptor("policy", "test", "no/such/policies", cwd=tmp_path)

    assert result.returncode == 2
    assert "no/such/policies: no such file or folder" in result.stderr


def test_an_unknown_option_is_a_usage_error_exit_2(tmp_path: Path) -> None:
    result = acceptor("policy", "test", "--strict", cwd=tmp_path)

    assert result.returncode == 2


def test_a_policy_folder_without_tests_exits_1_and_says_where_to_write_them(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, {})

    result = acceptor("policy", "test", cwd=root)

    assert result.returncode == 1
    assert result.stdout.startswith("policies/tests: no tests here")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty; a test file is a list of tests"),
        ("[]\n", 1, "a test file is a list of tests, each {name, facts, expect}"),
        ("name: x\n", 1, "found a mapping"),
        (
            f"- facts: {{service_id: {SERVICE}}}\n  expect: hold\n",
            1,
            "test #1: missing required key 'name'; give every test a name, unique in its file",
        ),
        (f"- name: x\n  facts: {{service_id: {SERVICE}}}\n", 1, "missing required key 'expect'"),
        (
            f"- name: x\n  facts: {{service_id: {SERVICE}, acount: '111122223333'}}\n"
            "  expect: hold\n",
            2,
            "test 'x': facts: unknown key 'acount'",
        ),
        (
            f"- name: x\n  facts: {{service_id: {SERVICE}, connections: 0}}\n  expect: hold\n",
            2,
            "test 'x': facts.connections: 0 is too small; the least allowed is 1",
        ),
        (
            f"- name: x\n  facts: {{service_id: {SERVICE}}}\n  expect: {{decision: hold, "
            "rule: 'a b'}\n",
            3,
            "test 'x': expect.rule: 'a b' is not a name",
        ),
        (
            f"- name: x\n  facts: {{service_id: {SERVICE}, tags: {{}}, unknown_reasons: "
            "{tags: no role}}\n  expect: hold\n",
            2,
            "test 'x': facts: unknown_reasons.tags: tags is given, so it is not unknown",
        ),
        (
            f"- name: x\n  facts: {{service_id: {SERVICE}}}\n  expect: hold\n"
            f"- name: x\n  facts: {{service_id: {SERVICE}}}\n  expect: hold\n",
            4,
            "test name 'x' is also used at line 1; give each test its own name",
        ),
        # An unclosed mapping is reported where it was opened (docs/policy.md, "YAML syntax").
        ("- name: x\n  facts: {service_id: 1\n", 2, "YAML syntax error"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_test_file_problem_has_file_line_and_message(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(PolicyValidationError) as raised:
        load_test_files([("tests/t.yaml", path)])

    (problem,) = raised.value.problems
    assert (problem.path, problem.line) == ("tests/t.yaml", line)
    assert message in problem.message, problem.message


def test_committed_test_schema_equals_the_generated_one() -> None:
    committed = (ROOT / TEST_SCHEMA_FILE).read_text(encoding="utf-8")

    assert committed == render_test_schema(), (
        f"{TEST_SCHEMA_FILE} is out of date; run: {REGENERATE_TEST_SCHEMA}"
    )


def test_schema_command_prints_the_test_schema(tmp_path: Path) -> None:
    result = acceptor("policy", "schema", "--tests", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout == render_test_schema()


SHIPPED_TEST_FILES = sorted(path for folder in SHIPPED for path in find_tests(ROOT / folder).files)


@pytest.mark.parametrize("path", SHIPPED_TEST_FILES, ids=lambda p: p.name)
def test_schema_accepts_every_shipped_test_file_and_points_editors_at_it(path: Path) -> None:
    validator = Draft202012Validator(policy_test_schema())
    text = path.read_text(encoding="utf-8")

    assert [error.message for error in validator.iter_errors(yaml.safe_load(text))] == []
    first_line = text.splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first_line.startswith(prefix)
    assert (path.parent / first_line.removeprefix(prefix)).resolve() == ROOT / TEST_SCHEMA_FILE


def test_schema_refuses_what_the_loader_refuses() -> None:
    validator = Draft202012Validator(policy_test_schema())
    facts = {"service_id": SERVICE}

    assert validator.is_valid([{"name": "x", "facts": facts, "expect": "hold"}])
    assert validator.is_valid([{"name": "x", "facts": {**facts, "tags": None}, "expect": "hold"}])
    assert not validator.is_valid([{"facts": facts, "expect": "hold"}])
    assert not validator.is_valid([{"name": "x", "facts": facts, "expect": "acept"}])
    assert not validator.is_valid([{"name": "x", "facts": {"acount": "1"}, "expect": "hold"}])
    assert not validator.is_valid(
        [{"name": "x", "facts": {**facts, "connections": 0}, "expect": "hold"}]
    )


@pytest.mark.parametrize("folder", SHIPPED)
def test_make_test_runs_the_shipped_policies_tests_and_they_pass(folder: str) -> None:
    result = acceptor("policy", "test", folder, cwd=ROOT)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("folder", SHIPPED)
def test_shipped_tests_cover_every_rule_every_default_and_every_limit(folder: str) -> None:
    suite = find_tests(ROOT / folder)
    policy = load_policy([suite.policy])
    files = load_test_files([(str(path), path) for path in suite.files])
    results = run_tests(policy, files)

    by_rule = {result.decision.rule for result in results}
    # A default decided when no rule and no limit did.
    by_default = {
        r.decision.evaluation.file
        for r in results
        if r.decision.evaluation is not None
        and r.decision.evaluation.rule is None
        and r.decision.limited is None
    }
    over_limit = {r.decision.limited.file for r in results if r.decision.limited is not None}

    for document in policy.documents:
        for rule in document.model.rules:
            assert rule.name in by_rule, f"no test is decided by rule {rule.name!r}"
        assert document.path in by_default, f"no test is decided by the default of {document.path}"
        if document.model.limits is not None:
            assert document.path in over_limit, f"no test is over the limit of {document.path}"
