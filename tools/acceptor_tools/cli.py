"""`acceptor`: the command line of the local tooling.

Exit codes: 0 success, 1 the input was judged and found wrong (invalid policy, decisions that
differ...), 2 usage errors (argparse's own convention).
Each command lives in its own module, imported only when it runs, so `acceptor policy check`
does not pay for moto.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command path -> "module:function"; the function takes the parsed arguments, returns the exit code.
COMMANDS: dict[tuple[str, ...], str] = {
    ("policy", "check"): "acceptor_tools.policy_commands:check",
    ("policy", "explain"): "acceptor_tools.explain_command:explain",
    ("policy", "schema"): "acceptor_tools.policy_commands:schema",
    ("local-aws", "serve"): "acceptor_tools.local_aws.serve:serve_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acceptor",
        description="PrivateLink Acceptor: policy tools, local AWS and replay.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    policy = groups.add_parser("policy", help="check, explain and describe policy files")
    policy_commands = policy.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    check = policy_commands.add_parser(
        "check", help="validate policy files; prints path:line: message for every problem"
    )
    check.add_argument(
        "paths",
        nargs="*",
        default=["policies"],
        metavar="PATH",
        help="policy files or folders (a folder means its *.yaml, *.yml, *.json, not subfolders;"
        " default: policies)",
    )

    explain = policy_commands.add_parser(
        "explain", help="show the decision a policy makes for a set of facts, and why"
    )
    explain.add_argument(
        "--policy",
        default="policies",
        metavar="PATH",
        help="policy file or folder (default: policies)",
    )
    explain.add_argument(
        "--facts", required=True, metavar="FILE", help="facts file (JSON), or - for stdin"
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")

    policy_commands.add_parser("schema", help="print the JSON Schema of policy files")

    local_aws = groups.add_parser("local-aws", help="the local AWS (moto + PrivateLink extension)")
    local_aws_commands = local_aws.add_subparsers(
        dest="command", required=True, metavar="SUBCOMMAND"
    )
    serve = local_aws_commands.add_parser(
        "serve", help="run the local AWS as a server, seeded with a world file"
    )
    serve.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    serve.add_argument("--world", metavar="FILE", help="world file to seed (YAML)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    target = COMMANDS[(args.group, args.command)]
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result: int = function(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
