"""The policy is bundled and validated at build: an invalid policy fails the build, naming
file and line, and nothing of it is left to deploy."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from sam_template import ROOT, environment, load

from acceptor.policy.loader import load_policy

pytestmark = pytest.mark.disable_socket

MAKEFILE = ROOT / "tools" / "policy_layer" / "Makefile"
SAM = Path(sys.executable).with_name("sam")
VALID = 'version: 1\nservices: ["*"]\ndefault: hold\n'
# Line 6: an unquoted account ID, which YAML reads as a number.
INVALID = (
    "version: 1\n"
    'services: ["*"]\n'
    "rules:\n"
    "  - name: payments\n"
    "    decision: accept\n"
    "    when: {accounts: [111122223333]}\n"
)


# A test of VALID (default hold) that expects accept: it fails at line 1.
FAILING_TEST = (
    "- name: everyone is accepted\n"
    "  facts: {service_id: vpce-svc-0123456789abcdef0, account: '111122223333'}\n"
    "  expect: accept\n"
)
PASSING_TEST = FAILING_TEST.replace("everyone is accepted", "everyone is held").replace(
    "expect: accept", "expect: hold"
)


def _bundle(source: Path, artifacts: Path) -> subprocess.CompletedProcess[str]:
    """The layer build as `sam build` runs it: in a copy of policies/, with ARTIFACTS_DIR."""
    return subprocess.run(
        ["make", "--no-print-directory", "--makefile", str(MAKEFILE), "build-PolicyLayer"],
        cwd=source,
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), "ACCEPTOR_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _policies(tmp_path: Path, files: dict[str, str]) -> Path:
    source = tmp_path / "scratch"
    source.mkdir()
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    return source


def test_bundling_ships_the_policy_files_but_not_subfolders_or_other_files(
    tmp_path: Path,
) -> None:
    source = _policies(
        tmp_path,
        {
            "acceptor.yaml": VALID,
            "more.json": '{"version": 1, "services": ["vpce-svc-0123456789abcdef0"]}',
            "examples/broken.yaml": INVALID,
            "README.md": "not a policy",
        },
    )
    (source / "acceptor.yaml").chmod(0o600)

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode == 0, result.stderr
    shipped = tmp_path / "artifacts" / "policies"
    assert sorted(p.name for p in shipped.iterdir()) == ["acceptor.yaml", "more.json"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in shipped.iterdir())
    assert "2 policy files bundled" in result.stdout


def test_bundled_policy_is_where_the_functions_read_it_and_means_the_same(
    tmp_path: Path,
) -> None:
    source = _policies(tmp_path, {"acceptor.yaml": VALID})
    policy_path = PurePosixPath(environment(load(), "DecideFunction")["POLICY_PATH"])

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode == 0, result.stderr
    # Lambda unpacks a layer under /opt.
    bundled = tmp_path / "artifacts" / policy_path.relative_to("/opt")
    assert load_policy([bundled]).version_hash == load_policy([source]).version_hash


def test_an_invalid_policy_fails_the_bundling_naming_file_and_line(tmp_path: Path) -> None:
    source = _policies(tmp_path, {"acceptor.yaml": VALID, "payments.yaml": INVALID})

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode != 0
    assert "policies/payments.yaml:6: " in result.stderr
    assert "quote it" in result.stderr
    assert not (tmp_path / "artifacts" / "policies").exists()


def test_an_empty_policy_folder_fails_the_bundling(tmp_path: Path) -> None:
    source = _policies(tmp_path, {"examples/acceptor.yaml": VALID})

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode != 0
    assert "policies: no policy files" in result.stderr


def test_bundling_runs_the_policy_tests_and_says_how_many_passed(tmp_path: Path) -> None:
    source = _policies(tmp_path, {"acceptor.yaml": VALID, "tests/acceptor.yaml": PASSING_TEST})

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode == 0, result.stderr
    assert "1 policy test passed" in result.stdout
    shipped = tmp_path / "artifacts" / "policies"
    assert sorted(p.name for p in shipped.iterdir()) == ["acceptor.yaml"]


def test_a_failing_policy_test_fails_the_bundling_naming_file_line_and_test(
    tmp_path: Path,
) -> None:
    source = _policies(tmp_path, {"acceptor.yaml": VALID, "tests/acceptor.yaml": FAILING_TEST})

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode != 0
    assert (
        "policies/tests/acceptor.yaml:1: test everyone is accepted: want accept, got hold ("
        in result.stderr
    )
    assert "1 of 1 policy test failed: nothing was bundled" in result.stderr
    assert not (tmp_path / "artifacts" / "policies").exists()


def test_a_broken_policy_test_file_fails_the_bundling(tmp_path: Path) -> None:
    source = _policies(
        tmp_path, {"acceptor.yaml": VALID, "tests/acceptor.yaml": "- name: no facts\n"}
    )

    result = _bundle(source, tmp_path / "artifacts")

    assert result.returncode != 0
    assert "policies/tests/acceptor.yaml:1: test 'no facts': missing required key" in (
        result.stderr
    )
    assert not (tmp_path / "artifacts" / "policies").exists()


def _project(tmp_path: Path, policies: dict[str, str]) -> Path:
    """A copy of the project's template beside its own policies/ (code and tools linked)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "template.yaml", project / "template.yaml")
    for folder in ("functions", "tools"):
        (project / folder).symlink_to(ROOT / folder)
    for name, text in policies.items():
        (project / "policies" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "policies" / name).write_text(text)
    return project


def _sam_build_policy_layer(project: Path) -> subprocess.CompletedProcess[str]:
    # Only the layer: it needs no python3.13 (`make sam-build` builds everything).
    return subprocess.run(
        [str(SAM), "build", "PolicyLayer", "--build-dir", str(project / "build")],
        cwd=project,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "ACCEPTOR_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_sam_build_fails_on_an_invalid_policy_naming_file_and_line(tmp_path: Path) -> None:
    project = _project(tmp_path, {"acceptor.yaml": VALID, "payments.yaml": INVALID})

    result = _sam_build_policy_layer(project)

    assert result.returncode != 0
    assert "Build Failed" in result.stdout + result.stderr
    assert "policies/payments.yaml:6: " in result.stdout + result.stderr
    assert not (project / "build" / "PolicyLayer" / "policies").exists()


@pytest.mark.slow
def test_sam_build_puts_a_valid_policy_in_the_layer(tmp_path: Path) -> None:
    project = _project(tmp_path, {"acceptor.yaml": VALID})

    result = _sam_build_policy_layer(project)

    assert result.returncode == 0, result.stdout + result.stderr
    layer = project / "build" / "PolicyLayer"
    assert sorted(p.name for p in (layer / "policies").iterdir()) == ["acceptor.yaml"]


@pytest.mark.slow
def test_sam_build_fails_on_a_failing_policy_test(tmp_path: Path) -> None:
    project = _project(tmp_path, {"acceptor.yaml": VALID, "tests/acceptor.yaml": FAILING_TEST})

    result = _sam_build_policy_layer(project)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Build Failed" in output
    assert "policies/tests/acceptor.yaml:1: test everyone is accepted: want accept, got hold" in (
        output
    )
    assert not (project / "build" / "PolicyLayer" / "policies").exists()
