"""`acceptor policy test [PATH]`: run a policy's tests (docs/policy.md, "Testing your policy").

Exit codes: 0 every test passed; 1 a test failed (`path:line: test NAME: want X, got Y
(reason)` per failure on stdout), a test file or the policy is invalid (`path:line: message`
per problem on stdout), or there are no tests; 2 usage errors (a path that does not exist).
A count goes to stderr, as for `acceptor policy check`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor_tools.policy_testing import find_tests, load_test_files, run_tests


def test_command(args: argparse.Namespace) -> int:
    given: str = args.path
    if not os.path.exists(given):
        print(f"acceptor policy test: {given}: no such file or folder", file=sys.stderr)
        return 2
    suite = find_tests(Path(given))
    if not suite.files:
        print(
            f"{_shown(suite.tests)}: no tests here (write them as *.yaml in "
            f"{_shown(suite.tests)}/, a list of {{name, facts, expect}})"
        )
        return 1
    try:
        policy = load_policy([_shown(suite.policy)])
        files = load_test_files([(_shown(path), path) for path in suite.files])
    except PolicyValidationError as err:
        for problem in err.problems:
            print(problem)
        count = len(err.problems)
        print(f"{count} problem{'s' if count != 1 else ''}: no test was run", file=sys.stderr)
        return 1
    results = run_tests(policy, files)
    failed = [result for result in results if not result.passed]
    for result in failed:
        print(result)
    total = len(results)
    tests = f"{total} test{'s' if total != 1 else ''}"
    if failed:
        print(f"{len(failed)} of {tests} failed", file=sys.stderr)
        return 1
    print(f"{_shown(suite.tests)}: {tests} passed (policy version {policy.version_hash})")
    return 0


def _shown(path: Path) -> str:
    """A path as the user would write it: relative where it can be, never `x/../y`."""
    return os.path.normpath(path)
