"""Bundle the policy files into the policy layer at build time, and refuse an invalid policy.

`sam build` runs this through tools/policy_layer/Makefile (which explains how SAM calls it):
`python -m acceptor_tools.policy_bundle SOURCE TARGET`, run from the layer's artifacts
directory with TARGET `policies`. The files are copied first and the copy is validated, so that
what ships is exactly what was checked, and problems read `policies/<file>:<line>: message`,
the same path the files have in the repository. On any problem TARGET is removed: an invalid
policy never sits in a build output that `sam deploy` could pick up.

The policy's tests (SOURCE/tests/*.yaml, docs/policy.md "Testing your policy") then run
against the copy: a failing test, or an invalid test file, also removes TARGET, so a policy
whose tests fail never deploys. Failures read `policies/tests/<file>:<line>: test NAME: ...`.

Exit codes follow `acceptor policy check`: 0 bundled, 1 invalid policy or failing tests, 2 usage
errors.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import POLICY_SUFFIXES, load_policy
from acceptor.policy.policy_set import PolicySet
from acceptor_tools.policy_testing import (
    TESTS_FOLDER,
    CaseResult,
    files_in,
    load_test_files,
    run_tests,
)

# Lambda runs as a user that does not own the layer's files: they must be world-readable.
_FILE_MODE = 0o644


def policy_files(source: Path) -> list[Path]:
    """The files the loader reads in `source`: policy files directly inside, not subfolders."""
    return sorted(
        child
        for child in source.iterdir()
        if child.suffix.lower() in POLICY_SUFFIXES
        and not child.name.startswith(".")
        and child.is_file()
    )


class PolicyTestsFailed(Exception):
    """The policy is valid, but some of its tests fail."""

    def __init__(self, failures: list[CaseResult], total: int) -> None:
        self.failures = failures
        self.total = total
        super().__init__("\n".join(str(failure) for failure in failures))


def bundle(source: Path, target: Path) -> tuple[PolicySet, int]:
    """Copy the policy files of `source` into a fresh `target`, load the copy and run the
    policy's tests (`source`/tests) against it; return the policy and the number of tests.

    Raises `PolicyValidationError` when the policy or a test file is invalid, and
    `PolicyTestsFailed` when a test fails, in both cases after removing `target`.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for file in policy_files(source):
        copied = target / file.name
        shutil.copyfile(file, copied)
        copied.chmod(_FILE_MODE)
    try:
        policy = load_policy([target])
        # Shown under TARGET, where the test files sit in the repository: policies/tests/...
        tests = [
            (str(target / TESTS_FOLDER / path.name), path)
            for path in files_in(source / TESTS_FOLDER)
        ]
        results = run_tests(policy, load_test_files(tests))
        failures = [result for result in results if not result.passed]
        if failures:
            raise PolicyTestsFailed(failures, len(results))
    except (PolicyValidationError, PolicyTestsFailed):
        shutil.rmtree(target)
        raise
    return policy, len(results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m acceptor_tools.policy_bundle",
        description="Copy and validate the policy files for the policy layer.",
    )
    parser.add_argument("source", type=Path, help="folder holding the policy files")
    parser.add_argument("target", type=Path, help="folder to create with the validated copy")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        parser.error(f"{args.source} is not a folder")
    try:
        policy, tests = bundle(args.source, args.target)
    except PolicyValidationError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        count = len(err.problems)
        print(
            f"invalid policy or policy tests ({_count(count, 'problem')}): nothing was bundled",
            file=sys.stderr,
        )
        return 1
    except PolicyTestsFailed as failed:
        for failure in failed.failures:
            print(failure, file=sys.stderr)
        print(
            f"{len(failed.failures)} of {_count(failed.total, 'policy test')} failed: "
            "nothing was bundled",
            file=sys.stderr,
        )
        return 1
    print(
        f"{args.target}: {_count(len(policy.documents), 'policy file')} bundled, "
        f"policy version {policy.version_hash}, {_count(tests, 'policy test')} passed"
    )
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


if __name__ == "__main__":
    sys.exit(main())
