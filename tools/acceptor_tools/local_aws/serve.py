"""`acceptor local-aws serve`: the local AWS as a server on 127.0.0.1, for the AWS CLI and SDKs.

It prints the endpoint URL, the accounts and services of the world, and the AWS CLI profiles
that act as each account (a role assumed in it); it runs until Ctrl-C or SIGTERM, then stops
cleanly (exit 0). A world that cannot be loaded, or a port in use, exits 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.seed import AccountInfo, LoadedWorld
from acceptor_tools.local_aws.session import BASE_ACCESS_KEY, BASE_SECRET_KEY, LocalAws, role_arn
from acceptor_tools.local_aws.world import WorldError, load_world

HOST = "127.0.0.1"
BASE_PROFILE = "local-aws"
POLL_SECONDS = 0.5


def serve_command(args: argparse.Namespace) -> int:
    try:
        world = load_world(args.world) if args.world else None
    except WorldError as err:
        print(err, file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        local = LocalAws(world, server=True, host=HOST, port=args.port)
        try:
            local.start()
        except OSError as err:
            print(f"cannot serve on {HOST}:{args.port}: {err.strerror or err}", file=sys.stderr)
            return 1
        try:
            if args.create_endpoints and world is not None:
                local.create_endpoints()
            config_path = args.aws_config
            started = time.time()
            if config_path:
                Path(config_path).write_text(aws_config(local, started), encoding="utf-8")
            print_banner(local, args.world, config_path, started, sys.stdout)
            while not stop.wait(POLL_SECONDS):
                pass
        finally:
            local.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Local AWS stopped.", flush=True)
    return 0


def aws_config(local: LocalAws, started: float) -> str:
    """An AWS CLI config file: a base profile with any static key, and one profile per world
    account that assumes a role in it through the base profile. The CLI caches assumed-role
    credentials by role and session name; a session name of this start keeps it from reusing
    the keys of an earlier local AWS, which this one never issued."""
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
    for account in _accounts(local):
        lines += [
            f"[profile {account.name}]",
            f"role_arn = {role_arn(account.id)}",
            f"source_profile = {BASE_PROFILE}",
            f"role_session_name = {session_name}",
            f"region = {account.region}",
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
    write("\nCtrl-C or SIGTERM stops the server.\n")
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
