"""`acceptor`: the command line of the local tooling.

Exit codes: 0 success, 1 the input was judged and found wrong (invalid policy, decisions that
differ...), 2 usage errors (argparse's own convention), 130 interrupted (Ctrl-C).
Each command lives in its own module, imported only when it runs, so `acceptor policy check`
does not pay for moto.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

DISTRIBUTION = "privatelink-acceptor"
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader (`| head`) stopped reading

# Each command's help ends with an example and the document that explains it.
EXAMPLES: dict[str, str] = {
    "policy": "examples:\n  acceptor policy check policies/\n  acceptor policy test policies/\n"
    "  acceptor policy diff policies/ new-policies/\n\nreference: docs/policy.md",
    "local-aws": "example:\n  acceptor local-aws serve --world events/world.yaml\n\n"
    "reference: docs/local-aws.md",
    "check": "example:\n  acceptor policy check policies/\n\nreference: docs/policy.md",
    "explain": "example:\n  acceptor policy explain --policy policies/examples \\\n"
    "    --facts policies/examples/facts/allowed-account.json\n\n"
    "facts file format: docs/policy.md, 'The facts file'",
    "test": "example:\n  acceptor policy test policies/\n\n"
    "reference: docs/policy.md, 'Testing your policy'",
    "schema": "example:\n  acceptor policy schema > policy.schema.json\n\n"
    "reference: docs/policy.md",
    "diff": "example:\n  acceptor policy diff policies/ new-policies/\n\n"
    "reference: docs/replay.md, 'Trying a policy change'",
    "serve": "examples:\n  acceptor local-aws serve --world events/world.yaml "
    "--aws-config /tmp/local-aws.config\n"
    "  acceptor local-aws serve --world events/world.yaml --create-endpoints \\\n"
    "    --aws-config /tmp/local-aws.config --app \\\n"
    "    --policy tools/acceptor_tools/replay/demo/policy.yaml\n\n"
    "reference: docs/local-aws.md",
    "replay": "examples:\n  acceptor replay --policy policies/\n"
    "  acceptor replay events/ingest-sns-connect.json --policy policies/\n"
    "  acceptor replay --world my-world.yaml --policy my-policies/\n\n"
    "reference: docs/replay.md",
}

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
        epilog="examples:\n  acceptor policy check policies/\n"
        "  acceptor replay --policy policies/\n\nREADME.md and docs/ explain every command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")

    policy = _command(groups, "policy", "check, explain, test and describe policy files")
    policy_commands = policy.add_subparsers(dest="command", metavar="SUBCOMMAND")

    check = _command(
        policy_commands,
        "check",
        "validate policy files; prints path:line: message for every problem",
    )
    check.add_argument(
        "paths",
        nargs="*",
        default=["policies"],
        metavar="PATH",
        help="policy files or folders (a folder means its *.yaml, *.yml, *.json, not subfolders;"
        " default: policies)",
    )
    managed = check.add_mutually_exclusive_group()
    managed.add_argument(
        "--managed",
        metavar="SERVICES",
        help="the managed services (comma-separated vpce-svc IDs; '' for none): also warn about"
        " files that name other services or govern none of these",
    )
    managed.add_argument(
        "--world",
        metavar="FILE",
        help="take the managed services from a world file of the local AWS (its services tagged"
        " privatelink-acceptor:managed=true)",
    )

    explain = _command(
        policy_commands, "explain", "show the decision a policy makes for a set of facts, and why"
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

    test = _command(
        policy_commands,
        "test",
        "run a policy's tests (PATH/tests/*.yaml); prints path:line for every failure",
    )
    test.add_argument(
        "path",
        nargs="?",
        default="policies",
        metavar="PATH",
        help="a policy folder (its tests/ subfolder holds the tests), a tests folder, or one "
        "test file (default: policies)",
    )

    schema = _command(policy_commands, "schema", "print the JSON Schema of policy files")
    schema.add_argument(
        "--tests", action="store_true", help="the JSON Schema of policy test files instead"
    )

    diff = _command(
        policy_commands,
        "diff",
        "replay the same events against two policies and list the decisions that change",
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

    local_aws = _command(groups, "local-aws", "the local AWS (moto + PrivateLink extension)")
    local_aws_commands = local_aws.add_subparsers(dest="command", metavar="SUBCOMMAND")
    serve = _command(
        local_aws_commands, "serve", "run the local AWS as a server, seeded with a world file"
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
    serve.add_argument(
        "--app",
        nargs="?",
        const="template.yaml",
        metavar="TEMPLATE",
        help="also deploy and run the application of TEMPLATE (default template.yaml) and serve"
        " its function URLs under /_function-urls/ (needs --world)",
    )
    serve.add_argument(
        "--policy",
        default="policies",
        metavar="PATH",
        help="with --app: the policy file or folder the functions read (default: policies)",
    )
    serve.add_argument(
        "--outbox",
        default="outbox",
        metavar="DIR",
        help="with --app: where messages to people and function logs go (default: outbox)",
    )

    replay = _command(
        groups, "replay", "run events through template.yaml's wiring and functions on the local AWS"
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
            description=f"{verb.capitalize()} a held request as yourself, with a reason: a"
            " request\nsigned with SigV4 by your credentials (--profile) to the stack's approval"
            " URL.\nExit 0 recorded; 1 refused, already decided or not found; 2 usage errors.",
            epilog="examples:\n"
            f'  acceptor {name} vpce-0e5f6a7b8c9d01234 --reason "ticket NET-4711" \\\n'
            "    --stack privatelink-acceptor --profile network-admin\n"
            f'  acceptor {name} vpce-0e5f6a7b8c9d01234 --reason "ticket NET-4711" \\\n'
            "    --local-port 5000 --profile platform-provider-NetworkAdmins\n"
            "    (against acceptor local-aws serve --app, profiles from its --aws-config FILE)\n\n"
            'reference: docs/operations.md, "Approving a held request"',
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        decide.add_argument("endpoint", metavar="ENDPOINT", help="the endpoint ID (vpce-...)")
        decide.add_argument("--reason", required=True, help="why; kept in the decision record")
        where = decide.add_mutually_exclusive_group()
        where.add_argument("--stack", help="the stack whose ApprovalUrl output to call")
        where.add_argument("--url", help="the approval URL itself (instead of --stack)")
        where.add_argument(
            "--local-port",
            type=int,
            metavar="PORT",
            help="the application of `acceptor local-aws serve --app` on 127.0.0.1:PORT",
        )
        decide.add_argument(
            "--region",
            help="AWS region (default: the profile's; with --local-port, the served stack's)",
        )
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
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show every function call and its result on stderr (the plumbing)",
    )
    parser.add_argument("--json", action="store_true", help="JSON lines (docs/replay.md)")


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary[:1].upper() + summary[1:] + ".",
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    group = getattr(args, "group", None)
    command = getattr(args, "command", None)
    if group is None:  # bare `acceptor`: what it can do
        parser.print_help()
        return 0
    target = COMMANDS.get((group, command) if command else (group,))
    if target is None:  # `acceptor policy` without its subcommand: that group's help
        _subcommands(parser).choices[group].print_help()
        return 0
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        result: int = function(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print(f"acceptor {' '.join(filter(None, (group, command)))}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader is gone: say nothing more on stdout, and keep Python's exit-time flush
        # from raising again (the pattern of the Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    return result


if __name__ == "__main__":
    sys.exit(main())
