"""Slack's signed interaction requests: signature check and the button clicked (pure).

Slack signs every request with the app's signing secret
(https://api.slack.com/authentication/verifying-requests-from-slack): the header
`X-Slack-Signature` is `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}`.
Written here with the standard library because Slack's SDK would be a new dependency of every
function for twenty lines; `hmac.compare_digest` keeps the comparison constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from acceptor.approval.model import HumanDecision

MAX_SKEW = timedelta(minutes=5)
VERSION = "v0"

# The buttons a held message carries (notify/render.py) and what each decides.
ACTIONS: dict[str, HumanDecision] = {
    "acceptor-approve": "accept",
    "acceptor-reject": "reject",
}


class SlackRefused(Exception):
    """A request that is not Slack's, too old, or not a button of ours: nothing is done."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class SlackClick:
    user_id: str
    user_name: str
    endpoint_id: str
    decision: HumanDecision

    @property
    def approver(self) -> str:
        return f"slack:{self.user_id}"

    @property
    def reason(self) -> str:
        verb = "Approved" if self.decision == "accept" else "Rejected"
        return f"{verb} in Slack by {self.user_name or self.user_id}."


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str], now: datetime) -> None:
    """Raise `SlackRefused` (401) unless the request is signed by one of `secrets` and its
    timestamp is within five minutes of `now`. Headers are matched case-insensitively."""
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    given = lowered.get("x-slack-signature", "")
    if not timestamp or not given:
        raise SlackRefused(401, "unsigned request (no X-Slack-Signature or timestamp)")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SlackRefused(401, "malformed X-Slack-Request-Timestamp") from None
    if abs(now.timestamp() - sent) > MAX_SKEW.total_seconds():
        raise SlackRefused(401, "stale request: timestamp more than 5 minutes from now")
    # Every candidate is compared (no early exit), so timing tells nothing about which failed.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(signature(secret, timestamp, body), given)
    if not matched:
        raise SlackRefused(401, "bad signature")


def click_of(body: bytes) -> SlackClick:
    """The button of a `block_actions` interaction (form field `payload`, JSON)."""
    try:
        fields = parse_qs(body.decode(), strict_parsing=True)
        payload = json.loads(fields["payload"][0])
        user = payload["user"]
        action = payload["actions"][0]
        decision = ACTIONS[action["action_id"]]
        endpoint_id = str(action["value"])
        return SlackClick(
            user_id=str(user["id"]),
            user_name=str(user.get("username") or user.get("name") or ""),
            endpoint_id=endpoint_id,
            decision=decision,
        )
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as err:
        raise SlackRefused(400, "not a button of the acceptor's held message") from err
