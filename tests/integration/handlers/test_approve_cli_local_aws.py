"""`acceptor approve|reject` end to end: the CLI signs with SigV4 as the user, a local function
URL (SigV4 checked against the keys the local AWS issued) invokes ApprovalFunction, and Decide
then accepts the held request naming the user."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from handlers_stack import Stack

from acceptor_tools.cli import main
from acceptor_tools.local_aws.function_url import FunctionUrl, FunctionUrlServer
from acceptor_tools.local_aws.session import role_arn

POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
approval:
  approvers: ["{approver}"]
"""


@pytest.fixture
def approval_url(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Given the partner's request held, and the user's own credentials (a role the local AWS
    issued) in the environment, as `aws configure` would leave them."""
    provider = stack.aws.world.provider_account
    stack.policy(POLICY.replace("{approver}", role_arn(provider)))
    stack.aws.create_endpoints(["partner-orders"])
    stack.ingest(stack.notifications())
    stack.decide(stack.requested())
    stack.observed()
    issued = stack.aws.credentials(provider)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", issued["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", issued["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", issued["SessionToken"])
    app = FunctionUrl(lambda event, _: stack.approval(event), "AWS_IAM", account=provider)
    with FunctionUrlServer(app) as server:
        yield server.url


def test_acceptor_approve_signs_as_the_user_and_decide_accepts_naming_them(
    stack: Stack, approval_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = stack.aws.world.endpoints["partner-orders"].id

    code = main(["approve", partner, "--reason", "contract PO-1182", "--url", approval_url])
    printed = capsys.readouterr().out
    stack.decide(stack.requested())

    assert code == 0
    assert printed.startswith("Recorded: ")
    assert stack.state(partner) == "available"
    (record,) = [d for d in stack.decisions(partner) if d.get("origin") == "approval"]
    assert record["approved_by"].startswith(
        f"arn:aws:sts::{stack.aws.world.provider_account}:assumed-role/"
    )
    assert record["approval_reason"] == "contract PO-1182"


def test_acceptor_reject_of_a_connection_no_longer_pending_says_already_decided(
    stack: Stack, approval_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = stack.aws.world.endpoints["partner-orders"].id
    stack.clients.ec2().reject_vpc_endpoint_connections(
        ServiceId=stack.aws.world.services["orders-api"].id, VpcEndpointIds=[partner]
    )

    code = main(["reject", partner, "--reason", "too late", "--url", approval_url, "--json"])
    answer = json.loads(capsys.readouterr().out)

    assert code == 1
    assert (answer["http_status"], answer["status"], answer["state"]) == (
        409,
        "already-decided",
        "rejected",
    )


def test_an_unsigned_request_to_the_iam_url_is_refused_before_the_function(
    stack: Stack, approval_url: str
) -> None:
    partner = stack.aws.world.endpoints["partner-orders"].id
    body = json.dumps({"endpoint_id": partner, "decision": "accept", "reason": "me"}).encode()

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(
            urllib.request.Request(approval_url, data=body, method="POST"), timeout=10
        )

    assert refused.value.code == 403
    assert stack.approval_record(partner) is None
    assert stack.requested() == []


def test_a_request_signed_with_the_wrong_secret_is_refused_and_the_cli_says_so(
    stack: Stack,
    approval_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    partner = stack.aws.world.endpoints["partner-orders"].id
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-the-local-aws-issued")

    code = main(["approve", partner, "--reason", "forged", "--url", approval_url])

    assert code == 1
    assert capsys.readouterr().out.startswith("Refused: IAM refused the call")
    assert stack.approval_record(partner) is None
