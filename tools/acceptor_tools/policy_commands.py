"""`acceptor policy check` and `acceptor policy schema [--tests]`.

`check` prints one `path:line: message` line per problem on stdout (a summary line goes to
stderr), exits 1 when the policy is invalid and 2 when a path does not exist. A valid policy's
warnings (`acceptor/policy/warnings.py`) are printed as `path[:line]: warning: ...` lines and
leave the exit code 0; those about the managed set need it (`--managed` or `--world`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet
from acceptor.policy.schema import render_schema
from acceptor.policy.warnings import policy_warnings
from acceptor_tools.policy_testing import render_test_schema

SERVICE_ID = re.compile(r"vpce-svc-(?:[0-9a-f]{8}|[0-9a-f]{17})")


def check(args: argparse.Namespace) -> int:
    paths: list[str] = list(args.paths)
    missing = [path for path in paths if not os.path.exists(path)]
    for path in missing:
        print(f"acceptor policy check: {path}: no such file or folder", file=sys.stderr)
    if missing:
        return 2
    try:
        managed = managed_set(args)
    except (OSError, ValueError) as err:
        print(f"acceptor policy check: {err}", file=sys.stderr)
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
    warnings = policy_warnings(policy, managed)
    for warning in warnings:
        print(warning)
    noted = f" ({_count(len(warnings), 'warning')})" if warnings else ""
    print(f"{', '.join(paths)}: {summary(policy)}: OK{noted}")
    return 0


def managed_set(args: argparse.Namespace) -> frozenset[str] | None:
    """The managed services given on the command line; None when not given (unknown)."""
    if getattr(args, "managed", None) is not None:
        services = frozenset(item.strip() for item in args.managed.split(",") if item.strip())
        wrong = sorted(s for s in services if not SERVICE_ID.fullmatch(s))
        if wrong:
            raise ValueError(f"--managed: not endpoint service IDs: {', '.join(wrong)}")
        return services
    if getattr(args, "world", None):
        # Imported here: the world model needs nothing heavy, but the check of plain files
        # should not even load it.
        from acceptor.managed import MANAGED_TAG, MANAGED_VALUE
        from acceptor_tools.local_aws.world import load_world

        world = load_world(args.world)
        return frozenset(
            service.id
            for service in world.provider.services
            if service.id and service.tags.get(MANAGED_TAG) == MANAGED_VALUE
        )
    return None


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
