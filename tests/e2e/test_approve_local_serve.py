"""A person's decision on a held request, end to end on this machine: `acceptor local-aws serve
--app` runs the application in the served local AWS, and `acceptor approve|reject --local-port`
signs the request with a profile of the config file serve wrote, each command in its own
process, as a person runs them (docs/operations.md, "Approving a held request").

The demo policy holds the partner's request (outside the organization) and names the
NetworkAdmins role of the provider account as the approver; serve writes a profile for it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from replay_helpers import DEMO_POLICY, REPOSITORY, TEMPLATE, WORLD

from acceptor_tools.replay.served import PUMP_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ACCEPTOR = [sys.executable, "-m", "acceptor_tools.cli"]
START_SECONDS = 90.0
COMMAND_SECONDS = 60.0
SETTLE_SECONDS = 30.0
STOP_SECONDS = 30.0
PARTNER = "vpce-0e5f6a7b8c9d01234"  # partner-orders: held by the demo policy
SANDBOX = "vpce-0d4e5f6a7b8c90123"  # sandbox-orders: rejected by rule no-sandboxes
PROVIDER = "999988887777"
APPROVER = "platform-provider-NetworkAdmins"  # the profile serve writes for approval.approvers


@dataclass
class Served:
    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    output: list[str]
    endpoint_url: str
    port: str
    decision_table: str
    config: Path
    environment: dict[str, str]

    def acceptor(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ACCEPTOR, *arguments],
            cwd=REPOSITORY,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )

    def connections(self, *options: str) -> dict[str, dict[str, Any]]:
        done = self.acceptor(
            "connections", "--json", "--endpoint-url", self.endpoint_url,
            "--decision-table", self.decision_table, "--policy", str(DEMO_POLICY),
            "--profile", "platform-provider", *options,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        return {row["endpoint_id"]: row for row in rows}

    def said(self, start: str) -> str | None:
        """The first line serve printed so far that begins with `start` after its time."""
        while not self.lines.empty():
            self.output.append(self.lines.get_nowait())
        found = [line.split(" ", 1)[1] for line in self.output if line[:2].isdigit()]
        return next((line.strip() for line in found if line.startswith(start)), None)

    def url_output(self, name: str) -> str:
        """A URL output of the stack, from the document serve answers (as the CLI reads it)."""
        with urllib.request.urlopen(f"{self.endpoint_url}/_function-urls/", timeout=10) as answer:
            return str(json.load(answer)["outputs"][name])


def _environment(tmp: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    environment.update(
        HOME=str(tmp),  # botocore caches assumed-role keys under ~/.aws/cli/cache
        AWS_EC2_METADATA_DISABLED="true",
        # The commands of this checkout, as pytest's `pythonpath` gives this process.
        PYTHONPATH=os.pathsep.join([str(REPOSITORY / "functions"), str(REPOSITORY / "tools")]),
    )
    return environment


def _until(condition: Callable[[], Any], what: str, seconds: float = SETTLE_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve-app")
    environment = _environment(tmp)
    config = tmp / "aws-config"
    command = [
        *ACCEPTOR, "local-aws", "serve", "--port", "0", "--world", str(WORLD),
        "--create-endpoints", "--aws-config", str(config), "--app", str(TEMPLATE),
        "--policy", str(DEMO_POLICY), "--outbox", str(tmp / "outbox"),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not any("SIGTERM stops the server" in line for line in output):
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("serve --app did not become ready:\n" + "".join(output))
            try:
                output.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
        text = "".join(output)
        endpoint_url = text.split("Endpoint URL: ", 1)[1].split()[0]
        table = text.split("--decision-table ", 1)[1].split()[0]
        environment = {**environment, "AWS_CONFIG_FILE": str(config)}
        yield Served(
            process, lines, output, endpoint_url, endpoint_url.rsplit(":", 1)[1], table, config,
            environment,
        )  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)
            raise
        while not lines.empty():
            output.append(lines.get_nowait())
    assert code == 0, "".join(output)
    assert output[-1].strip() == "Local AWS stopped."


@pytest.fixture
def profiles(served: Served, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], boto3.Session]:
    """boto3 sessions of the profiles serve wrote (this process reads them too)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(served.config))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return lambda name: boto3.Session(profile_name=name)


def _held(served: Served) -> dict[str, Any] | None:
    return served.connections("--state", "held").get(PARTNER)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _ingress_443(session: boto3.Session, endpoint_id: str, endpoint_url: str) -> list[Any]:
    ec2 = session.client("ec2", endpoint_url=endpoint_url)
    (endpoint,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    groups = [g["GroupId"] for g in endpoint["Groups"]]
    found = ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]
    return [p for g in found for p in g.get("IpPermissions", []) if p.get("FromPort") == 443]


def test_approve_with_local_port_accepts_the_held_partner_opens_its_group_and_records_who(
    served: Served, profiles: Callable[[str], boto3.Session]
) -> None:
    # Given the partner's request held by the policy, its endpoint's group closed on 443
    held = _until(lambda: _held(served), "the partner's request held")
    told = _until(lambda: served.said(f"held: {PARTNER}"), "serve saying it is held")
    assert told == (
        f"held: {PARTNER} of account 777788889999; a person decides: acceptor approve {PARTNER}"
        f' --reason "why" --local-port {served.port} --profile {APPROVER}'
    )
    assert (held["state"], held["decision"], held["approved_by"]) == (
        "pendingAcceptance",
        "hold",
        None,
    )
    partner = profiles("partner")
    assert _ingress_443(partner, PARTNER, served.endpoint_url) == []
    url = served.url_output("ApprovalUrl")
    body = json.dumps({"endpoint_id": PARTNER, "decision": "accept", "reason": "me"}).encode()

    # When the approval URL gets a request that is not signed, one signed with a secret the
    # local AWS never issued for the key, and one signed by a role that is not an approver;
    # and the Slack URL (AuthType NONE) a click without Slack's signature
    unsigned = _post(url, body, {"content-type": "application/json"})
    click = urllib.parse.urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    slack = _post(
        served.url_output("SlackInteractionUrl"),
        click,
        {"content-type": "application/x-www-form-urlencoded"},
    )
    issued = partner.get_credentials().get_frozen_credentials()
    forged = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    wrong = Credentials(issued.access_key, "not-the-issued-secret", issued.token)
    SigV4Auth(wrong, "lambda", "us-east-1").add_auth(forged)
    wrongly_signed = _post(url, body, dict(forged.headers.items()))
    not_approver = served.acceptor(
        "approve", PARTNER, "--reason", "me", "--local-port", served.port,
        "--profile", "platform-provider",
    )  # fmt: skip

    # Then each is refused and nothing changes
    assert (unsigned, wrongly_signed) == (403, 403)
    assert slack == 401  # the function's own refusal: the demo policy has no signing secret
    assert not_approver.returncode == 1, not_approver.stdout + not_approver.stderr
    assert not_approver.stdout.startswith("Refused: "), not_approver.stdout
    assert "is not in approval.approvers" in not_approver.stdout
    time.sleep(2 * PUMP_SECONDS)  # two of the application's ticks: what was asked has run
    still = _held(served)
    assert still is not None
    kept = ("state", "decision", "approved_by", "decided_at", "reason")
    assert {k: still[k] for k in kept} == {k: held[k] for k in kept}

    # When a network admin approves it, from the command line against the local port
    approved = served.acceptor(
        "approve", PARTNER, "--reason", "contract PO-1182", "--local-port", served.port,
        "--profile", APPROVER,
    )  # fmt: skip

    # Then it is recorded, Decide accepts it, its group opens, and the record names them
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert approved.stdout.startswith("Recorded: "), approved.stdout
    assert "decided accept (contract PO-1182)" in approved.stdout
    row = _until(
        lambda: (r := served.connections().get(PARTNER)) and r["state"] == "available" and r,
        "the partner's connection available",
    )
    ingress = _until(
        lambda: _ingress_443(partner, PARTNER, served.endpoint_url), "a 443 rule on its group"
    )
    assert ingress[0]["ToPort"] == 443
    assert row["decision"] == "accept"
    assert row["approved_by"].startswith(f"arn:aws:sts::{PROVIDER}:assumed-role/NetworkAdmins/")
    assert "contract PO-1182" in row["reason"]


def test_a_decision_on_a_connection_no_longer_pending_says_already_decided(
    served: Served,
) -> None:
    # Given the sandbox's request rejected by the policy
    _until(
        lambda: (r := served.connections().get(SANDBOX)) and r["state"] == "rejected",
        "the sandbox's connection rejected",
    )

    # When a network admin approves it
    done = served.acceptor(
        "approve", SANDBOX, "--reason", "too late", "--local-port", served.port,
        "--profile", APPROVER, "--json",
    )  # fmt: skip

    # Then the answer is "already decided", and it stays rejected
    assert done.returncode == 1, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert (answer["http_status"], answer["status"], answer["state"]) == (
        409,
        "already-decided",
        "rejected",
    )
    assert served.connections()[SANDBOX]["state"] == "rejected"


def test_approve_with_a_local_port_where_nothing_listens_is_a_usage_error(
    served: Served,
) -> None:
    done = served.acceptor(
        "approve", PARTNER, "--reason", "x", "--local-port", "1", "--profile", APPROVER
    )

    assert done.returncode == 2
    assert "nothing answers on 127.0.0.1:1" in done.stderr
