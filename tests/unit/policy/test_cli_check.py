"""`acceptor policy check` and `acceptor policy schema`, through the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor.policy.schema import SCHEMA_FILE
from acceptor_tools.cli import main

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
INVALID = "tests/fixtures/policies/invalid"
ACCEPTOR = Path(sys.executable).parent / "acceptor"


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_check_without_paths_checks_policies_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["policy", "check"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("policies: 1 file, 0 rules, every managed service (version ")
    assert out.endswith("): OK\n")


def test_check_examples_summarises_files_rules_and_services(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["policy", "check", "policies/examples"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("policies/examples: 4 files, 8 rules, 4 services (version ")


def test_check_invalid_policy_prints_one_line_per_problem_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [f"{INVALID}/numeric-account-octal.yaml", f"{INVALID}/bad-vpc-id.yaml"]

    code = main(["policy", "check", *paths])

    captured = capsys.readouterr()
    assert code == 1
    with pytest.raises(PolicyValidationError) as raised:
        load_policy(paths)
    assert captured.out.splitlines() == [str(p) for p in raised.value.problems]
    assert captured.out.splitlines()[1].startswith(f"{INVALID}/numeric-account-octal.yaml:9: ")
    assert captured.err == "2 problems in 2 files: invalid\n"


def test_check_path_that_does_not_exist_exits_2_and_says_so_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["policy", "check", "policies", "no/such/policy.yaml"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "no/such/policy.yaml: no such file or folder" in captured.err


def test_check_unknown_option_is_a_usage_error_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["policy", "check", "--strict"])

    assert raised.value.code == 2
    assert "unrecognized arguments: --strict" in capsys.readouterr().err


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy", "schema"])

    assert code == 0
    assert capsys.readouterr().out == (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")


def test_installed_acceptor_checks_the_shipped_policies() -> None:
    result = subprocess.run(
        [str(ACCEPTOR), "policy", "check", "policies", "policies/examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("policies, policies/examples: 5 files, 8 rules, ")


def test_installed_acceptor_reports_an_invalid_policy_with_exit_1() -> None:
    path = f"{INVALID}/security-groups-on-reject.yaml"

    result = subprocess.run(
        [str(ACCEPTOR), "policy", "check", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}:4: rule 'no-sandboxes': security_groups is only")


def test_check_with_the_managed_set_warns_about_unmanaged_services_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["policy", "check", "policies/examples/strict-reject-by-default.yaml", "--managed", ""]
    )

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split(" [")[-1] for line in lines[:-1]] == [
        "unmanaged-service]",
        "governs-nothing]",
    ]
    assert lines[-1].endswith(": OK (2 warnings)")


def test_check_with_a_world_takes_its_tagged_services_as_the_managed_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["policy", "check", "--world", "events/world.yaml"])

    assert code == 0
    assert "warning" not in capsys.readouterr().out


def test_check_warns_about_an_accept_rule_the_requester_satisfies_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        'version: 1\nservices: ["*"]\nrules:\n'
        "  - name: tagged\n    decision: accept\n    when: {tags: {env: prod}}\n"
    )

    code = main(["policy", "check", str(policy)])

    out = capsys.readouterr().out
    assert code == 0
    assert f"{policy}:4: warning: rule 'tagged' accepts on facts the requester asserts" in out


def test_check_refuses_a_managed_set_that_is_not_service_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "check", "--managed", "svc-1"]) == 2
    assert "not endpoint service IDs: svc-1" in capsys.readouterr().err
