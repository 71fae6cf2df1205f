"""Lambda function URL events (payload format 2.0) for the approval and Slack URLs, built from
the sample files in events/ so that they keep AWS's shape."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

EVENTS = Path(__file__).resolve().parents[3] / "events"
NETWORK_ADMINS = "arn:aws:iam::999988887777:role/NetworkAdmins"
ALICE = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
MALLORY = "arn:aws:sts::999988887777:assumed-role/Developers/mallory"
SLACK_SECRET = "example-signing-secret"


def _sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return copy.deepcopy(data)


def approval_event(
    endpoint_id: str, decision: str = "accept", reason: str = "ticket NET-4711", caller: str = ALICE
) -> dict[str, Any]:
    event = _sample("approval-url-accept.json")
    event["body"] = json.dumps({"endpoint_id": endpoint_id, "decision": decision, "reason": reason})
    event["requestContext"]["authorizer"]["iam"]["userArn"] = caller
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def slack_event(
    endpoint_id: str,
    action: str = "acceptor-approve",
    user_id: str = "U0123ABCD",
    secret: str = SLACK_SECRET,
    sent_at: float | None = None,
) -> dict[str, Any]:
    event = _sample("slack-url-approve.json")
    form = base64.b64decode(event["body"]).decode()
    payload = json.loads(parse_qs(form)["payload"][0])
    payload["user"]["id"] = user_id
    payload["actions"][0]["action_id"] = action
    payload["actions"][0]["value"] = endpoint_id
    body = "payload=" + quote(json.dumps(payload, separators=(",", ":")))
    timestamp = str(int(sent_at if sent_at is not None else time.time()))
    signature = hmac.new(
        secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    event["headers"]["x-slack-request-timestamp"] = timestamp
    event["headers"]["x-slack-signature"] = f"v0={signature}"
    event["body"] = base64.b64encode(body.encode()).decode()
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(response["statusCode"]), json.loads(response["body"])
