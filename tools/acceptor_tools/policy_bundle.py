"""Bundle the policy files into the policy layer at build time, and refuse an invalid policy.

`sam build` runs this through tools/policy_layer/Makefile (which explains how SAM calls it):
`python -m acceptor_tools.policy_bundle SOURCE TARGET`, run from the layer's artifacts
directory with TARGET `policies`. The files are copied first and the copy is validated, so that
what ships is exactly what was checked, and problems read `policies/<file>:<line>: message`,
the same path the files have in the repository. On any problem TARGET is removed: an invalid
policy never sits in a build output that `sam deploy` could pick up.

Exit codes follow `acceptor policy check`: 0 bundled, 1 invalid policy, 2 usage errors.
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


def bundle(source: Path, target: Path) -> PolicySet:
    """Copy the policy files of `source` into a fresh `target` and load the copy.

    Raises `PolicyValidationError` (after removing `target`) when the policy is invalid.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for file in policy_files(source):
        copied = target / file.name
        shutil.copyfile(file, copied)
        copied.chmod(_FILE_MODE)
    try:
        return load_policy([target])
    except PolicyValidationError:
        shutil.rmtree(target)
        raise


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
        policy = bundle(args.source, args.target)
    except PolicyValidationError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        count = len(err.problems)
        print(
            f"invalid policy ({count} problem{'s' if count != 1 else ''}): nothing was bundled",
            file=sys.stderr,
        )
        return 1
    files = len(policy.documents)
    print(
        f"{args.target}: {files} policy file{'s' if files != 1 else ''} bundled, "
        f"policy version {policy.version_hash}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
