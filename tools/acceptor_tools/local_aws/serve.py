"""`acceptor local-aws serve`: the local AWS as a server on 127.0.0.1, for the AWS CLI and SDKs.

It prints the endpoint URL, the accounts and services of the world, and the AWS CLI profiles
that act as each account (a role assumed in it); it runs until Ctrl-C or SIGTERM, then stops
cleanly (exit 0). A world that cannot be loaded, or a port in use, exits 1.

With `--app [TEMPLATE]` it also runs the application (docs/local-aws.md, "With the
application"): the template deployed in the world's provider account as the replay deploys it,
its functions kept running in this process (`replay/served.py`), and its function URLs served
on the same port under `/_function-urls/` (`acceptor approve --local-port PORT` finds the
approval URL there). A template or policy the replay would refuse exits 1; `--app` without
`--world` exits 2.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from acceptor.policy.errors import PolicyError
from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.function_url import FunctionUrlRouter
from acceptor_tools.local_aws.seed import AccountInfo, LoadedWorld
from acceptor_tools.local_aws.session import BASE_ACCESS_KEY, BASE_SECRET_KEY, LocalAws, role_arn
from acceptor_tools.local_aws.world import WorldError, load_world

if TYPE_CHECKING:
    from acceptor.policy.policy_set import PolicySet
    from acceptor_tools.replay.served import ServedApp

HOST = "127.0.0.1"
BASE_PROFILE = "local-aws"
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Profile:
    """An AWS CLI profile of the config file: a role assumed in a world account."""

    name: str
    role_arn: str
    region: str


@dataclass(frozen=True)
class AppOptions:
    template: Path
    policy: Path
    outbox: Path
    policy_set: PolicySet


def serve_command(args: argparse.Namespace) -> int:
    try:
        world = load_world(args.world) if args.world else None
    except WorldError as err:
        print(err, file=sys.stderr)
        return 1
    options = None
    if args.app is not None:
        if world is None:
            print("acceptor local-aws serve: --app needs --world FILE", file=sys.stderr)
            return 2
        try:
            options = app_options(args)
        except (OSError, PolicyError) as err:
            print(f"acceptor local-aws serve: {err}", file=sys.stderr)
            return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    router = FunctionUrlRouter()
    served: ServedApp | None = None
    code = 0
    try:
        local = LocalAws(world, server=True, host=HOST, port=args.port, front=router.wrap)
        try:
            local.start()
        except OSError as err:
            print(f"cannot serve on {HOST}:{args.port}: {err.strerror or err}", file=sys.stderr)
            return 1
        try:
            if options is not None:
                served = _start_app(local, args.world, options, router)
                if served is None:
                    return 1
            if args.create_endpoints and world is not None:
                local.create_endpoints()
            config_path = args.aws_config
            started = time.time()
            approvers = approver_profiles(options.policy_set, local.world) if options else []
            if config_path:
                Path(config_path).write_text(
                    aws_config(local, started, approvers), encoding="utf-8"
                )
            print_banner(local, args.world, config_path, started, sys.stdout)
            if served is not None and options is not None:
                print_app_banner(local, served, options, approvers, config_path, sys.stdout)
                served.start()
            print("\nCtrl-C or SIGTERM stops the server.", flush=True)
            while not stop.wait(POLL_SECONDS):
                if served is not None and not served.running:
                    print(f"the application stopped: {served.error!r}", file=sys.stderr)
                    code = 1
                    break
        finally:
            # Requests to the function URLs are refused from here on; a call or tick under
            # way ends before the local AWS goes.
            router.close()
            try:
                if served is not None:
                    served.stop()
            finally:
                local.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Local AWS stopped.", flush=True)
    return code


def app_options(args: argparse.Namespace) -> AppOptions:
    """What `--app` runs; an invalid policy never deploys (sam build refuses it)."""
    from acceptor.policy.loader import load_policy  # the policy engine: only for --app

    template, policy = Path(args.app), Path(args.policy)
    for path in (template, policy):
        if not path.exists():
            raise OSError(f"{path}: no such file or folder")
    return AppOptions(
        template=template,
        policy=policy,
        outbox=Path(args.outbox),
        policy_set=load_policy([policy]),
    )


def _start_app(
    local: LocalAws, world_path: str, options: AppOptions, router: FunctionUrlRouter
) -> ServedApp | None:
    """Deploy the template as the replay does, run its first sweep, serve its URLs."""
    # Imported here: the replay (samtranslator, the SAM CLI) loads only when --app asks for it.
    from acceptor_tools.replay.command import REFUSALS, reset_outbox
    from acceptor_tools.replay.local import ReplayConfig, deploy_stack
    from acceptor_tools.replay.served import ServedApp

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    config = ReplayConfig(
        template=options.template,
        world=Path(world_path),
        policy=options.policy,
        outbox=options.outbox,
    )
    print(f"Deploying {options.template} with policy {options.policy}...", flush=True)
    try:
        reset_outbox(options.outbox)
        session = deploy_stack(local, config, say, first_sweep_runs=True)
    except REFUSALS as err:
        print(f"acceptor local-aws serve: {err}", file=sys.stderr)
        return None
    endpoint_url = local.endpoint_url or ""
    port = endpoint_url.rsplit(":", 1)[-1]
    approvers = approver_profiles(options.policy_set, local.world)
    profile = signing_profile(approvers, local)
    served = ServedApp(
        session,
        outbox=options.outbox,
        policy=options.policy,
        say=say,
        approve_command=(
            f'acceptor approve {{endpoint_id}} --reason "why" --local-port {port} '
            f"--profile {profile}"
        ),
    )
    router.mount(served.function_urls(), served.document(endpoint_url))
    return served


def approver_profiles(policy: PolicySet, world: LoadedWorld) -> list[Profile]:
    """A profile per IAM role that `approval.approvers` names in a world account, so that a
    person can act as that role (`acceptor approve --profile NAME`)."""
    profiles: dict[str, Profile] = {}
    for document in policy.documents:
        approval = document.model.approval
        for approver in (approval.approvers or []) if approval else []:
            found = ROLE_ARN.match(approver)
            if found is None or found["account"] not in world.accounts:
                continue
            account = world.accounts[found["account"]]
            name = f"{account.name}-{found['name']}"
            profiles[name] = Profile(name, approver, account.region)
    return sorted(profiles.values(), key=lambda p: p.name)


def signing_profile(approvers: Sequence[Profile], local: LocalAws) -> str:
    """The profile the printed commands sign with: an approver's, else the provider's (which
    may approve when the policy names no approvers: IAM alone decides then)."""
    world = local.world
    return approvers[0].name if approvers else world.accounts[world.provider_account].name


# An IAM role ARN of `approval.approvers` (docs/policy.md); STS names its sessions by `name`.
ROLE_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$")


def aws_config(local: LocalAws, started: float, approvers: Sequence[Profile] = ()) -> str:
    """An AWS CLI config file: a base profile with any static key, one profile per world
    account that assumes a role in it through the base profile, and one per approver role of
    the served application's policy. The CLI caches assumed-role credentials by role and
    session name; a session name of this start keeps it from reusing the keys of an earlier
    local AWS, which this one never issued."""
    url = local.endpoint_url
    session_name = f"local-aws-{int(started)}"
    lines = [
        f"[profile {BASE_PROFILE}]",
        f"aws_access_key_id = {BASE_ACCESS_KEY}",
        f"aws_secret_access_key = {BASE_SECRET_KEY}",
        "region = us-east-1",
        f"endpoint_url = {url}",
        "",
    ]
    profiles = [Profile(a.name, role_arn(a.id), a.region) for a in _accounts(local)]
    for profile in [*profiles, *approvers]:
        lines += [
            f"[profile {profile.name}]",
            f"role_arn = {profile.role_arn}",
            f"source_profile = {BASE_PROFILE}",
            f"role_session_name = {session_name}",
            f"region = {profile.region}",
            f"endpoint_url = {url}",
            "",
        ]
    return "\n".join(lines)


def print_banner(
    local: LocalAws, world_path: str | None, config_path: str | None, started: float, out: TextIO
) -> None:
    write = out.write
    write(f"Local AWS (moto {moto.MOTO_VERSION} + PrivateLink extension)\n")
    write(f"Endpoint URL: {local.endpoint_url}\n")
    if world_path:
        world = local.world
        write(f"World: {world_path} (region {world.region})\n\nAccounts:\n")
        for account in _accounts(local):
            write(f"  {account.id}  {account.name:<20} {_placement(world, account.id)}\n")
        write("\nEndpoint services (provider account):\n")
        for service in world.services.values():
            required = "acceptance required" if service.acceptance_required else "auto-accept"
            write(f"  {service.name:<14} {service.service_name}  {required}\n")
        if world.endpoints:
            write("\nEndpoints created:\n")
            for endpoint in world.endpoints.values():
                write(
                    f"  {endpoint.name:<20} {endpoint.id}  {endpoint.account}  {endpoint.state}\n"
                )
    write("\nAct as an account by assuming a role in it (any role name works):\n")
    if config_path:
        write(f"  export AWS_CONFIG_FILE={config_path}\n")
        example = next(iter(_accounts(local)), None)
        profile = example.name if example else BASE_PROFILE
        write(f"  aws sts get-caller-identity --profile {profile}\n")
    else:
        write("  (profiles for an AWS CLI config file; --aws-config FILE writes them)\n\n")
        write("".join(f"  {line}\n" for line in aws_config(local, started).splitlines()))
    # awscli 1.x puts SQS on queue.amazonaws.com unless the command names an endpoint
    # (its "overridesslcommonname" customization), whatever the profile says.
    write(f"SQS commands of the AWS CLI version 1 also need --endpoint-url {local.endpoint_url}\n")
    out.flush()


def print_app_banner(
    local: LocalAws,
    served: ServedApp,
    options: AppOptions,
    approvers: Sequence[Profile],
    config_path: str | None,
    out: TextIO,
) -> None:
    write = out.write
    app = served.session.app
    url = local.endpoint_url or ""
    port = url.rsplit(":", 1)[-1]
    write(
        f"\nApplication: {options.template} deployed as stack {app.stack} in {app.account} "
        f"({app.region}), policy {options.policy}\n"
        f"  its functions run in this process; logs in {options.outbox}/logs/, messages to "
        f"people in {options.outbox}/\n"
    )
    document = served.document(url)
    write("\nFunction URLs (the stack's outputs; GET " + url + "/_function-urls/ lists them):\n")
    outputs = {v: k for k, v in document["outputs"].items()}
    for logical_id, found in document["function_urls"].items():
        output = outputs.get(found["url"], "")
        write(f"  {logical_id:<26} {found['auth_type']:<8} {found['url']}  {output}\n")
    provider = local.world.accounts[app.account].name
    profile = signing_profile(approvers, local)
    table = app.tables["DecisionTable"].name if "DecisionTable" in app.tables else None
    write("\nApprove a held request as yourself (a profile of the config file signs it):\n")
    if config_path:
        write(f"  export AWS_CONFIG_FILE={config_path}\n")
    else:
        write("  (--aws-config FILE writes the profiles these commands use)\n")
    if table:
        write(
            f"  acceptor connections --state held --endpoint-url {url} --decision-table {table}"
            f" --policy {options.policy} --profile {provider}\n"
        )
    write(
        f'  acceptor approve ENDPOINT --reason "why" --local-port {port} --profile {profile}\n'
        f'  acceptor reject ENDPOINT --reason "why" --local-port {port} --profile {profile}\n'
    )
    if approvers:
        names = ", ".join(p.name for p in approvers)
        write(f"  (approver profiles of the policy's approval.approvers: {names})\n")
    out.flush()


def _accounts(local: LocalAws) -> list[AccountInfo]:
    try:
        world = local.world
    except RuntimeError:
        return []
    return list(world.accounts.values())


def _placement(world: LoadedWorld, account_id: str) -> str:
    account = world.accounts[account_id]
    if account.is_provider:
        return "provider (organization management account)" if account.ou_ids else "provider"
    if account.ou_path is None:
        return "consumer, not in the organization"
    return f"consumer, OU {'/'.join(account.ou_path) or '(root)'}"
