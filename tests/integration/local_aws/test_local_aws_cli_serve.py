"""The real AWS CLI against `acceptor local-aws serve` running as a separate process.

Profiles are what a person writes: a base profile with any static key in a credentials file,
and one profile per account that assumes a role in it (`role_arn` + `source_profile`). The
profile's `endpoint_url` sends the role assumption to the local AWS as well; `--endpoint-url` on
each command is what the documentation shows for one-off commands.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from local_aws_helpers import ORDERS_SERVICE, PAYMENTS, PROVIDER, REPORTS_SERVICE

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[3]
WORLD = REPOSITORY / "events" / "world.yaml"
AWS_CLI = Path(sys.executable).parent / "aws"
START_SECONDS = 90.0
COMMAND_SECONDS = 60.0
STOP_SECONDS = 30.0
ORDERS_NAME = f"com.amazonaws.vpce.us-east-1.{ORDERS_SERVICE}"


def _clean_environment(tmp: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    environment.update(
        # the CLI caches assumed-role credentials under ~/.aws/cli/cache; a cache of an earlier
        # local AWS holds keys this one has never issued
        HOME=str(tmp),
        AWS_CONFIG_FILE=str(tmp / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environment


@dataclass
class Served:
    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    url: str
    output: list[str]


def _start_serve(arguments: list[str], environment: dict[str, str]) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "acceptor_tools.cli", "local-aws", "serve", *arguments],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    url = ""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        output.append(line)
        if line.startswith("Endpoint URL: "):
            url = line.split(": ", 1)[1].strip()
        if "SIGTERM stops the server" in line:
            return Served(process, lines, url, output)
    process.kill()
    process.wait(STOP_SECONDS)
    raise AssertionError("serve did not become ready:\n" + "".join(output))


def _stop(served: Served, sig: signal.Signals) -> tuple[int, str]:
    served.process.send_signal(sig)
    code = served.process.wait(STOP_SECONDS)
    rest = []
    while not served.lines.empty():
        rest.append(served.lines.get_nowait())
    return code, "".join(rest)


def _write_profiles(tmp: Path, url: str) -> None:
    (tmp / "credentials").write_text(
        "[local]\naws_access_key_id = local\naws_secret_access_key = local\n"
    )
    profiles = [f"[profile local]\nregion = us-east-1\nendpoint_url = {url}\n"]
    for name, account in [("provider", PROVIDER), ("payments", PAYMENTS)]:
        profiles.append(
            f"[profile {name}]\n"
            f"role_arn = arn:aws:iam::{account}:role/OrganizationAccountAccessRole\n"
            "source_profile = local\n"
            "region = us-east-1\n"
            f"endpoint_url = {url}\n"
        )
    (tmp / "config").write_text("\n".join(profiles))


@dataclass
class Cli:
    url: str
    environment: dict[str, str]

    def __call__(self, profile: str, *arguments: str) -> dict[str, Any]:
        command = [str(AWS_CLI), *arguments, "--profile", profile, "--endpoint-url", self.url]
        done = subprocess.run(
            command,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(arguments)} failed:\n{done.stderr}"
        result: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
        return result


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    tmp = tmp_path_factory.mktemp("aws-cli")
    environment = _clean_environment(tmp)
    served = _start_serve(["--port", "0", "--world", str(WORLD)], environment)
    try:
        _write_profiles(tmp, served.url)
        yield Cli(served.url, environment)
    finally:
        code, rest = _stop(served, signal.SIGTERM)
    assert code == 0, "".join(served.output) + rest
    assert "Local AWS stopped." in rest


def _payments_network(cli: Cli) -> tuple[str, str]:
    vpcs = cli("payments", "ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=payments")
    vpc_id = vpcs["Vpcs"][0]["VpcId"]
    subnets = cli(
        "payments", "ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc_id}"
    )
    return vpc_id, subnets["Subnets"][0]["SubnetId"]


def _create_endpoint(cli: Cli, service_name: str) -> dict[str, Any]:
    vpc_id, subnet_id = _payments_network(cli)
    created = cli(
        "payments",
        "ec2",
        "create-vpc-endpoint",
        "--vpc-endpoint-type",
        "Interface",
        "--vpc-id",
        vpc_id,
        "--subnet-ids",
        subnet_id,
        "--service-name",
        service_name,
    )
    endpoint: dict[str, Any] = created["VpcEndpoint"]
    return endpoint


def test_consumer_creates_provider_sees_pending_accepts_consumer_sees_available(cli: Cli) -> None:
    assert cli("payments", "sts", "get-caller-identity")["Account"] == PAYMENTS

    endpoint = _create_endpoint(cli, ORDERS_NAME)
    assert endpoint["State"] == "pendingAcceptance"

    pending = cli(
        "provider",
        "ec2",
        "describe-vpc-endpoint-connections",
        "--filters",
        "Name=vpc-endpoint-state,Values=pendingAcceptance",
    )["VpcEndpointConnections"]
    mine = [c for c in pending if c["VpcEndpointId"] == endpoint["VpcEndpointId"]]
    assert [(c["VpcEndpointOwner"], c["ServiceId"]) for c in mine] == [(PAYMENTS, ORDERS_SERVICE)]

    accepted = cli(
        "provider",
        "ec2",
        "accept-vpc-endpoint-connections",
        "--service-id",
        ORDERS_SERVICE,
        "--vpc-endpoint-ids",
        endpoint["VpcEndpointId"],
    )
    assert accepted["Unsuccessful"] == []

    described = cli(
        "payments",
        "ec2",
        "describe-vpc-endpoints",
        "--vpc-endpoint-ids",
        endpoint["VpcEndpointId"],
    )
    assert described["VpcEndpoints"][0]["State"] == "available"


def test_cli_parses_reject_notifications_pages_and_delete(cli: Cli) -> None:
    endpoint = _create_endpoint(cli, f"com.amazonaws.vpce.us-east-1.{REPORTS_SERVICE}")
    endpoint_id = endpoint["VpcEndpointId"]

    rejected = cli(
        "provider",
        "ec2",
        "reject-vpc-endpoint-connections",
        "--service-id",
        REPORTS_SERVICE,
        "--vpc-endpoint-ids",
        endpoint_id,
        "vpce-0ffffffffffffffff",
    )
    assert [u["Error"]["Code"] for u in rejected["Unsuccessful"]] == [
        "InvalidVpcEndpointId.NotFound"
    ]

    topic = f"arn:aws:sns:us-east-1:{PROVIDER}:privatelink-connections"
    created = cli(
        "provider",
        "ec2",
        "create-vpc-endpoint-connection-notification",
        "--service-id",
        REPORTS_SERVICE,
        "--connection-notification-arn",
        topic,
        "--connection-events",
        "Reject",
        "Delete",
    )["ConnectionNotification"]
    listed = cli("provider", "ec2", "describe-vpc-endpoint-connection-notifications")
    assert created["ConnectionNotificationId"] in {
        n["ConnectionNotificationId"] for n in listed["ConnectionNotificationSet"]
    }
    deleted = cli(
        "provider",
        "ec2",
        "delete-vpc-endpoint-connection-notifications",
        "--connection-notification-ids",
        created["ConnectionNotificationId"],
    )
    assert deleted["Unsuccessful"] == []

    # the CLI pages with MaxResults/NextToken itself and joins the pages
    paged = cli("provider", "ec2", "describe-vpc-endpoint-connections", "--page-size", "5")
    states = {c["VpcEndpointId"]: c["VpcEndpointState"] for c in paged["VpcEndpointConnections"]}
    assert states[endpoint_id] == "rejected"

    cli("payments", "ec2", "delete-vpc-endpoints", "--vpc-endpoint-ids", endpoint_id)
    after = cli(
        "provider",
        "ec2",
        "describe-vpc-endpoint-connections",
        "--filters",
        f"Name=vpc-endpoint-id,Values={endpoint_id}",
    )
    assert after["VpcEndpointConnections"][0]["VpcEndpointState"] == "deleted"


def test_generated_aws_config_acts_as_each_account(tmp_path: Path) -> None:
    environment = _clean_environment(tmp_path)
    config = tmp_path / "generated-config"
    served = _start_serve(
        ["--port", "0", "--world", str(WORLD), "--aws-config", str(config)], environment
    )
    try:
        environment["AWS_CONFIG_FILE"] = str(config)
        done = subprocess.run(
            [str(AWS_CLI), "sts", "get-caller-identity", "--profile", "sandbox-dev"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
    finally:
        code, _ = _stop(served, signal.SIGINT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "444455556666"
    assert code == 0
    assert "payments-prod" in "".join(served.output)


def test_docs_walkthrough_with_generated_profiles_watches_the_notification_by_sqs(
    tmp_path: Path,
) -> None:
    """docs/local-aws.md, "A consumer connects, the provider accepts": the profiles written by
    --aws-config, SQS commands with --endpoint-url (the CLI's SQS client ignores the profile's),
    and a subscription whose queue does not exist that fails no call."""
    environment = _clean_environment(tmp_path)
    config = tmp_path / "generated-config"
    served = _start_serve(
        ["--port", "0", "--world", str(WORLD), "--aws-config", str(config)], environment
    )
    environment["AWS_CONFIG_FILE"] = str(config)
    topic = f"arn:aws:sns:us-east-1:{PROVIDER}:privatelink-connections"

    def aws(profile: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS_CLI), *arguments, "--profile", profile, "--output", "text"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )

    try:
        sqs = ["--endpoint-url", served.url]
        queue = aws("platform-provider", "sqs", "create-queue", "--queue-name", "watch", *sqs,
                    "--query", "QueueUrl")  # fmt: skip
        for name in ("gone", "watch"):  # a queue that was never created, then the real one
            subscribed = aws("platform-provider", "sns", "subscribe", "--topic-arn", topic,
                             "--protocol", "sqs", "--notification-endpoint",
                             f"arn:aws:sqs:us-east-1:{PROVIDER}:{name}")  # fmt: skip
            assert subscribed.returncode == 0, subscribed.stderr
        subnet = aws("payments-prod", "ec2", "describe-subnets", "--filters",
                     "Name=vpc-id,Values=vpc-0abc1234def567890", "Name=tag:Name,Values=a",
                     "--query", "Subnets[0].SubnetId")  # fmt: skip
        created = aws("payments-prod", "ec2", "create-vpc-endpoint", "--vpc-endpoint-type",
                      "Interface", "--vpc-id", "vpc-0abc1234def567890", "--subnet-ids",
                      subnet.stdout.strip(), "--service-name", ORDERS_NAME,
                      "--query", "VpcEndpoint.VpcEndpointId")  # fmt: skip
        received = aws("platform-provider", "sqs", "receive-message", *sqs, "--queue-url",
                       queue.stdout.strip(), "--query", "Messages[0].Body")  # fmt: skip
    finally:
        code, _ = _stop(served, signal.SIGTERM)
    assert queue.stdout.strip() == f"{served.url}/{PROVIDER}/watch", queue.stderr
    assert created.returncode == 0, created.stderr
    endpoint_id = created.stdout.strip()
    assert endpoint_id.startswith("vpce-")
    message = json.loads(json.loads(received.stdout)["Message"])
    assert (message["endpointId"], message["eventType"]) == (endpoint_id, "Connect")
    assert code == 0


def test_serve_with_an_invalid_world_exits_1(tmp_path: Path) -> None:
    world = tmp_path / "bad.yaml"
    world.write_text("version: 1\nprovider: {account: 999988887777}\n")
    done = subprocess.run(
        [sys.executable, "-m", "acceptor_tools.cli", "local-aws", "serve", "--world", str(world)],
        env=_clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"{world}:2: provider.account: 999988887777 was read by YAML as the number "
        '999988887777; quote it: "999988887777"'
    )


def test_serve_on_a_port_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "acceptor_tools.cli", "local-aws", "serve", "--port", str(port)],
            env=_clean_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{port}" in done.stderr
