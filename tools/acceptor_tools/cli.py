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
    ("policy", "test"): "acceptor_tools.policy_test_command:test_command",
    ("local-aws", "serve"): "acceptor_tools.local_aws.serve:serve_command",
    ("replay",): "acceptor_tools.replay.command:replay_command",
    ("policy", "diff"): "acceptor_tools.replay.command:policy_diff_command",
    ("approve",): "acceptor_tools.approve_command:approve_command",
    ("reject",): "acceptor_tools.approve_command:reject_command",
    ("connections",): "acceptor_tools.connections_command:connections_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acceptor",
        description="PrivateLink Acceptor: policy tools, local AWS and replay.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    policy = groups.add_parser("policy", help="check, explain, test and describe policy files")
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
        "--facts",
        required=True,
        metavar="FILE",
        help="facts file (JSON), or - for stdin; FILE.jsonl: one fact set per line",
    )
    explain.add_argument(
        "--json",
        action="store_true",
        help="print JSON (for FILE.jsonl: one decision record per line, as Decide writes it)",
    )

    test = policy_commands.add_parser(
        "test",
        help="run a policy's tests (PATH/tests/*.yaml); prints path:line for every failure",
    )
    test.add_argument(
        "path",
        nargs="?",
        default="policies",
        metavar="PATH",
        help="a policy folder (its tests/ subfolder holds the tests), a tests folder, or one "
        "test file (default: policies)",
    )

    schema = policy_commands.add_parser("schema", help="print the JSON Schema of policy files")
    schema.add_argument(
        "--tests", action="store_true", help="the JSON Schema of policy test files instead"
    )

    diff = policy_commands.add_parser(
        "diff",
        help="replay the same events against two policies and list the decisions that change",
    )
    diff.add_argument("old", metavar="OLD", help="policy file or folder before the change")
    diff.add_argument("new", metavar="NEW", help="policy file or folder after the change")
    diff.add_argument(
        "--events",
        nargs="+",
        default=[],
        metavar="EVENT_FILE",
        help="events to replay (default: the demo world's story)",
    )
    _replay_options(diff)

    local_aws = groups.add_parser("local-aws", help="the local AWS (moto + PrivateLink extension)")
    local_aws_commands = local_aws.add_subparsers(
        dest="command", required=True, metavar="SUBCOMMAND"
    )
    serve = local_aws_commands.add_parser(
        "serve", help="run the local AWS as a server, seeded with a world file"
    )
    serve.add_argument(
        "--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000; 0: any free port)"
    )
    serve.add_argument("--world", metavar="FILE", help="world file to seed (YAML)")
    serve.add_argument(
        "--create-endpoints",
        action="store_true",
        help="also create the world's endpoints at start (default: only the infrastructure)",
    )
    serve.add_argument(
        "--aws-config",
        metavar="FILE",
        help="write an AWS CLI config file with a profile per world account to FILE",
    )

    replay = groups.add_parser(
        "replay",
        help="run events through template.yaml's wiring and functions on the local AWS",
    )
    replay.add_argument(
        "events",
        nargs="*",
        metavar="EVENT_FILE",
        help="Lambda inputs (SNS, SQS, scheduled or bus events); none: the demo world's story",
    )
    replay.add_argument(
        "--policy",
        default="policies",
        metavar="PATH",
        help="policy file or folder the functions read (default: policies)",
    )
    replay.add_argument(
        "--diff",
        metavar="OLD_POLICY",
        help="also replay against OLD_POLICY and list the decisions that differ from --policy",
    )
    _replay_options(replay)

    for name, verb in (("approve", "accept"), ("reject", "reject")):
        decide = groups.add_parser(
            name,
            help=f"{verb} a held request as yourself, with a reason (docs/operations.md)",
        )
        decide.add_argument("endpoint", metavar="ENDPOINT", help="the endpoint ID (vpce-...)")
        decide.add_argument("--reason", required=True, help="why; kept in the decision record")
        decide.add_argument("--stack", help="the stack whose ApprovalUrl output to call")
        decide.add_argument("--url", help="the approval URL itself (instead of --stack)")
        decide.add_argument("--region", help="AWS region (default: the profile's)")
        decide.add_argument("--profile", help="AWS profile whose credentials sign the request")
        decide.add_argument("--json", action="store_true", help="print the answer as JSON")

    connections = groups.add_parser(
        "connections",
        help="the managed services' connections: state, last decision, reason, approver",
    )
    connections.add_argument(
        "--state",
        choices=["held", "pending", "all"],
        default="all",
        help="held: pending and held by the policy; pending: every pendingAcceptance (default all)",
    )
    connections.add_argument(
        "--service", action="append", metavar="ID", help="only this service (repeatable)"
    )
    connections.add_argument("--json", action="store_true", help="one JSON object per line")
    connections.add_argument("--stack", help="the stack whose DecisionTableName output to read")
    connections.add_argument("--decision-table", help="the decision table (instead of --stack)")
    connections.add_argument(
        "--policy",
        default="policies",
        metavar="PATH",
        help="the policy the stack was built from, for hold expiry (default: policies)",
    )
    connections.add_argument("--region", help="AWS region (default: the profile's)")
    connections.add_argument("--profile", help="AWS profile (your own credentials)")
    connections.add_argument(
        "--endpoint-url",
        help="the local AWS (acceptor local-aws serve), e.g. http://127.0.0.1:5000",
    )
    return parser


def _replay_options(parser: argparse.ArgumentParser) -> None:
    """The options `replay` and `policy diff` share (docs/replay.md)."""
    parser.add_argument(
        "--template", default="template.yaml", metavar="FILE", help="default: template.yaml"
    )
    parser.add_argument(
        "--world",
        default="events/world.yaml",
        metavar="FILE",
        help="world the local AWS starts with (default: events/world.yaml)",
    )
    parser.add_argument(
        "--outbox",
        default="outbox",
        metavar="DIR",
        help="where notifications and function logs are written (default: outbox)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override, repeatable (e.g. DryRun=true)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop waiting for the application to become quiet after this long (default 60)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--json", action="store_true", help="JSON lines (docs/replay.md)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = getattr(args, "command", None)
    target = COMMANDS[(args.group, command) if command else (args.group,)]
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result: int = function(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
