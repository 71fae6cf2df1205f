"""`acceptor approve|reject ENDPOINT --reason TEXT`: a person's decision on a held request.

The request goes to the stack's approval URL (a Lambda function URL with `AuthType: AWS_IAM`),
signed with SigV4 by botocore with the user's own credentials (`--profile`, or boto3's usual
chain): the signer is the approver. The URL comes from the stack's `ApprovalUrl` output
(`--stack`), from `acceptor local-aws serve --app` on 127.0.0.1 (`--local-port`: its document
of the served stack's URLs, docs/local-aws.md), or is given (`--url`). Exit codes: 0 recorded,
1 refused, already decided or not found (the message says which), 2 usage or configuration
errors (no credentials, no URL, nothing served on the local port).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session

OUTPUT = "ApprovalUrl"
TIMEOUT_SECONDS = 30
LOCAL_HOST = "127.0.0.1"


class ApprovalUsageError(Exception):
    pass


def approve_command(args: argparse.Namespace) -> int:
    return _decide(args, "accept")


def reject_command(args: argparse.Namespace) -> int:
    return _decide(args, "reject")


def _decide(args: argparse.Namespace, decision: str) -> int:
    try:
        region = args.region
        if args.local_port is not None:
            url, served_region = local_url(args.local_port)
            region = region or served_region
        session = boto3.Session(profile_name=args.profile, region_name=region)
        if args.local_port is None:
            url = args.url or stack_url(session, args.stack)
        status, body = send(session, url, args.endpoint, decision, args.reason)
    except (ApprovalUsageError, botocore.exceptions.BotoCoreError) as err:
        print(f"acceptor: {err}", file=sys.stderr)
        return 2
    except botocore.exceptions.ClientError as err:
        print(f"acceptor: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"http_status": status, **body}))
    else:
        print(describe(status, body))
    return 0 if body.get("status") == "recorded" else 1


def stack_url(session: boto3.Session, stack: str | None) -> str:
    if not stack:
        raise ApprovalUsageError("name the stack (--stack) or the approval URL (--url)")
    cloudformation = session.client("cloudformation")
    (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    for output in found.get("Outputs", []):
        if output.get("OutputKey") == OUTPUT and output.get("OutputValue"):
            return str(output["OutputValue"])
    raise ApprovalUsageError(f"stack {stack} has no {OUTPUT} output (deployed before approvals?)")


def local_url(port: int) -> tuple[str, str | None]:
    """The `ApprovalUrl` of the application `acceptor local-aws serve --app` runs on PORT, and
    the region of its stack (a function URL checks the region a request is signed for)."""
    # Imported here: the local AWS (moto) loads only for --local-port.
    from acceptor_tools.local_aws.function_url import PREFIX

    where = f"{LOCAL_HOST}:{port}"
    request = AWSRequest(method="GET", url=f"http://{where}{PREFIX}")
    try:
        response = URLLib3Session(timeout=TIMEOUT_SECONDS).send(request.prepare())
    except botocore.exceptions.BotoCoreError as err:
        raise ApprovalUsageError(
            f"nothing answers on {where} (is acceptor local-aws serve --app running?): {err}"
        ) from err
    try:
        document = json.loads(response.content) if response.status_code == 200 else None
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise ApprovalUsageError(
            f"{where} does not answer as acceptor local-aws serve (HTTP {response.status_code}"
            f" for {PREFIX})"
        )
    url = (document.get("outputs") or {}).get(OUTPUT)
    if not url:
        raise ApprovalUsageError(
            f"acceptor local-aws serve on {where} runs no application with an {OUTPUT}"
            " (start it with --app)"
        )
    region = document.get("region")
    return str(url), str(region) if region else None


def send(
    session: boto3.Session, url: str, endpoint_id: str, decision: str, reason: str
) -> tuple[int, dict[str, Any]]:
    """POST the decision signed with SigV4 (service `lambda`); the JSON answer and its status."""
    credentials = session.get_credentials()
    if credentials is None:
        raise ApprovalUsageError("no AWS credentials (set --profile or the usual variables)")
    region = session.region_name or region_of(url)
    if not region:
        raise ApprovalUsageError("no region (set --region)")
    body = json.dumps({"endpoint_id": endpoint_id, "decision": decision, "reason": reason})
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    response = URLLib3Session(timeout=TIMEOUT_SECONDS).send(request.prepare())
    try:
        answer = json.loads(response.content or b"{}")
    except json.JSONDecodeError:
        answer = {"status": "error", "message": response.text[:500]}
    if not isinstance(answer, dict):
        answer = {"status": "error", "message": str(answer)[:500]}
    if response.status_code == 403 and "status" not in answer:
        # Lambda's own refusal, before the function: the signer may not call the URL.
        answer = {"status": "refused", "message": f"IAM refused the call: {answer}"}
    return int(response.status_code), answer


def region_of(url: str) -> str | None:
    """`https://ID.lambda-url.REGION.on.aws/` → REGION."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    if len(parts) >= 4 and parts[1] == "lambda-url":
        return parts[2]
    return None


WORDS = {
    "recorded": "Recorded",
    "refused": "Refused",
    "already-decided": "Already decided",
    "not-found": "Not found",
    "invalid": "Invalid request",
}


def describe(status: int, body: dict[str, Any]) -> str:
    word = WORDS.get(str(body.get("status")), f"HTTP {status}")
    message = str(body.get("message", ""))
    # The function's message may already begin with the word ("Recorded: alice decided...").
    lines = [message if message.startswith(f"{word}:") else f"{word}: {message}".rstrip()]
    for key in ("endpoint_id", "service_id", "state", "approver", "approval_id", "expires_at"):
        if body.get(key):
            lines.append(f"  {key}: {body[key]}")
    return "\n".join(lines)
