"""Tolerant reading of an endpoint service's connection notification (an SNS message body).

AWS does not document the body of these messages (docs/architecture.md, "Notification parsing"),
so the message is only a trigger: we pull out the endpoint ID (required), the service ID, the
consumer account, the state and the event type when they are there, and Ingest re-reads the
truth with DescribeVpcEndpointConnections. Known key names are read first, at any depth of a JSON
body; then any `vpce-svc-…` / `vpce-…` IDs found anywhere in the message. Two different
candidates for the same fact are never resolved by guessing: for the endpoint ID that makes the
message unparseable, for the other facts they are left unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

EventType = Literal["Connect", "Accept", "Reject", "Delete"]

# Key names compared after lower-casing and dropping "_" and "-" (endpointId, endpoint_id,
# EndpointId and endpoint-id are one name).
ENDPOINT_KEYS = frozenset({"endpointid", "vpcendpointid"})
SERVICE_KEYS = frozenset({"endpointserviceid", "serviceid", "vpcendpointserviceid"})
ACCOUNT_KEYS = frozenset(
    {"awsaccountid", "accountid", "vpcendpointowner", "endpointowner", "owneraccountid"}
)
STATE_KEYS = frozenset(
    {"endpointstate", "vpcendpointstate", "connectionstate", "state", "vpcendpointconnectionstate"}
)
EVENT_KEYS = frozenset(
    {"connectionevent", "connectionevents", "eventtype", "event", "notificationtype", "eventname"}
)

ENDPOINT_ID = re.compile(r"\bvpce-(?!svc-)(?:[0-9a-f]{17}|[0-9a-f]{8})\b")
SERVICE_ID = re.compile(r"\bvpce-svc-(?:[0-9a-f]{17}|[0-9a-f]{8})\b")
ACCOUNT_ID = re.compile(r"^\d{12}$")

# The states of the botocore model, by their lower-cased spelling.
STATES: dict[str, str] = {
    state.lower(): state
    for state in (
        "pendingAcceptance",
        "pending",
        "available",
        "deleting",
        "deleted",
        "rejected",
        "failed",
        "expired",
        "partial",
    )
}

EVENT_TYPES: dict[str, EventType] = {
    "connect": "Connect",
    "accept": "Accept",
    "reject": "Reject",
    "delete": "Delete",
}

# When the message names a state but no event, the state says which event it was.
EVENT_OF_STATE: dict[str, EventType] = {
    "pendingAcceptance": "Connect",
    "pending": "Accept",
    "available": "Accept",
    "rejected": "Reject",
    "deleting": "Delete",
    "deleted": "Delete",
}

MAX_DEPTH = 8  # levels of the JSON walked for known keys (JSON held in strings included)

# Bounds checked before any JSON is decoded (docs/events.md, "Bounded parsing"). SNS caps a
# message at 256 KiB; a connection notification is a few hundred bytes.
MAX_MESSAGE_CHARS = 256 * 1024
MAX_SUBJECT_CHARS = 100  # SNS's own limit for a subject
MAX_JSON_DEPTH = 32  # nested arrays and objects
MAX_NUMBER_DIGITS = 40  # an account ID has 12; Python refuses more than 4,300 itself
# A JSON string, or one bracket: what the depth pre-check looks at (the decoder does the rest).
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


class UnparseableNotification(ValueError):
    """The message names no endpoint, or names several, or breaks a bound of the parser: it is
    dead-lettered, never guessed."""


@dataclass(frozen=True)
class ConnectionNotification:
    endpoint_id: str
    service_id: str | None
    account: str | None
    state: str | None
    event_type: EventType | None


def parse_notification(message: str, subject: str | None = None) -> ConnectionNotification:
    """Read one SNS `Message` (and its `Subject`, which may name the event)."""
    if len(message) > MAX_MESSAGE_CHARS:
        raise UnparseableNotification(
            f"the message has {len(message)} characters, more than {MAX_MESSAGE_CHARS}"
        )
    if subject is not None and len(subject) > MAX_SUBJECT_CHARS:
        raise UnparseableNotification(
            f"the subject has {len(subject)} characters, more than {MAX_SUBJECT_CHARS}"
        )
    body = _json_or_none(message)
    found = _Findings()
    if body is not None:
        for key, value in _walk(body):
            found.add_keyed(key, value)
    endpoint_id = _one(found.endpoints, "endpoint ID", required=True)
    if endpoint_id is None:
        endpoint_id = _one(set(ENDPOINT_ID.findall(message)), "endpoint ID", required=True)
    if endpoint_id is None:
        raise UnparseableNotification("the message names no VPC endpoint (vpce-…) ID")
    service_id = _one(found.services, "service ID") or _one(
        set(SERVICE_ID.findall(message)), "service ID"
    )
    state = _one(found.states, "state")
    event_type = _one(found.events, "event type")
    if event_type is None and subject:
        event_type = _one(_events_in_text(subject), "event type")
    if event_type is None and state is not None:
        event_type = EVENT_OF_STATE.get(state)
    return ConnectionNotification(
        endpoint_id=endpoint_id,
        service_id=service_id,
        account=_one(found.accounts, "account"),
        state=state,
        event_type=event_type,
    )


class _Findings:
    def __init__(self) -> None:
        self.endpoints: set[str] = set()
        self.services: set[str] = set()
        self.accounts: set[str] = set()
        self.states: set[str] = set()
        self.events: set[EventType] = set()

    def add_keyed(self, key: str, value: Any) -> None:
        name = key.lower().replace("_", "").replace("-", "")
        for text in _strings(value):
            if name in ENDPOINT_KEYS and ENDPOINT_ID.fullmatch(text):
                self.endpoints.add(text)
            elif name in SERVICE_KEYS and SERVICE_ID.fullmatch(text):
                self.services.add(text)
            elif name in ACCOUNT_KEYS and ACCOUNT_ID.match(text):
                self.accounts.add(text)
            elif name in STATE_KEYS and text.lower() in STATES:
                self.states.add(STATES[text.lower()])
            elif name in EVENT_KEYS:
                self.events.update(_events_in_text(text))


def _one(candidates: set[Any], what: str, *, required: bool = False) -> Any:
    if len(candidates) == 1:
        return next(iter(candidates))
    if len(candidates) > 1 and required:
        listed = ", ".join(sorted(candidates))
        raise UnparseableNotification(f"the message names several {what}s ({listed})")
    return None


def _events_in_text(text: str) -> set[EventType]:
    # "Connect", "VpcEndpointConnect", "ConnectionAccepted": the event word, case-insensitive;
    # "connection" itself is not the Connect event.
    words = re.findall(r"connect(?!ion)|accept|reject|delete", text.lower())
    return {EVENT_TYPES[word] for word in words}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value.strip()
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield item.strip()


def _walk(node: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, depth first, with JSON held inside strings."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            inner = _json_or_none(value, nested=True) if isinstance(value, str) else value
            yield from _walk(inner, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)


def _json_or_none(text: str, *, nested: bool = False) -> Any:
    """The JSON in `text`, or None when it is not JSON (plain text is read for IDs instead).
    A message beyond the bounds is unparseable; a string inside it beyond them is not read as
    JSON (the IDs in the message's text are still found).

    Hand-written bounds: Python's decoder recurses once per level (deep nesting raises
    `RecursionError`) and refuses integers of more than 4,300 digits with a `ValueError`;
    neither it nor a well-kept pure-Python decoder takes a depth limit (orjson's is fixed at
    1,024 and would be a compiled dependency for one check), so the depth is counted here
    first, and integers are bounded through `parse_int`."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        _check_depth(stripped)
        return json.loads(stripped, parse_int=_bounded_int)
    except json.JSONDecodeError:
        return None
    except UnparseableNotification:
        if nested:
            return None
        raise


def _check_depth(text: str) -> None:
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise UnparseableNotification(
                    f"the message nests JSON more than {MAX_JSON_DEPTH} levels deep"
                )
        elif bracket in ("]", "}"):
            depth -= 1


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise UnparseableNotification(
            f"the message holds a number of {len(text.lstrip('-'))} digits "
            f"(more than {MAX_NUMBER_DIGITS})"
        )
    return int(text)
