"""`acceptor policy check` and `acceptor policy schema [--tests]`.

`check` prints one `path:line: message` line per problem on stdout (a summary line goes to
stderr), exits 1 when the policy is invalid and 2 when a path does not exist.
"""

from __future__ import annotations

import argparse
import os
import sys

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet
from acceptor.policy.schema import render_schema
from acceptor_tools.policy_testing import render_test_schema


def check(args: argparse.Namespace) -> int:
    paths: list[str] = list(args.paths)
    missing = [path for path in paths if not os.path.exists(path)]
    for path in missing:
        print(f"acceptor policy check: {path}: no such file or folder", file=sys.stderr)
    if missing:
        return 2
    try:
        policy = load_policy(paths)
    except PolicyValidationError as err:
        for problem in err.problems:
            print(problem)
        files = len({problem.path for problem in err.problems})
        print(
            f"{_count(len(err.problems), 'problem')} in {_count(files, 'file')}: invalid",
            file=sys.stderr,
        )
        return 1
    print(f"{', '.join(paths)}: {summary(policy)}: OK")
    return 0


def summary(policy: PolicySet) -> str:
    """`2 files, 5 rules, 3 services (version 0123abcd...)`."""
    files = len(policy.documents)
    rules = sum(len(document.model.rules) for document in policy.documents)
    services = {service for document in policy.documents for service in document.model.services}
    governed = "every managed service" if "*" in services else _count(len(services), "service")
    counts = f"{_count(files, 'file')}, {_count(rules, 'rule')}, {governed}"
    return f"{counts} (version {policy.version_hash})"


def schema(args: argparse.Namespace) -> int:
    if args.tests:
        sys.stdout.write(render_test_schema())
    else:
        sys.stdout.write(render_schema())
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
