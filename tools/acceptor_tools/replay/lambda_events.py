"""The shapes Lambda works with: the events it gives functions, what it reads back from them,
and what it sends to an on-failure destination. Pure functions of their inputs.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from acceptor_tools.replay.app import FunctionSpec
from acceptor_tools.replay.runtime import Invocation


def sns_event(envelope: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event Lambda gives a function subscribed to a topic, from SNS's JSON envelope."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope["Timestamp"],
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", ""),
                    "SigningCertUrl": envelope.get("SigningCertURL", ""),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                    "MessageAttributes": envelope.get("MessageAttributes") or {},
                },
            }
        ]
    }


def invocation_record(
    function: FunctionSpec, payload: Any, invocation: Invocation, attempts: int
) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination."""
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": f"{function.arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorType": invocation.error.type if invocation.error else "TimeoutError",
            "errorMessage": invocation.error.message if invocation.error else "Task timed out",
        },
    }


def failed_items(
    invocation: Invocation, records: list[dict[str, Any]], report_failures: bool
) -> set[str]:
    everything = {r["messageId"] for r in records}
    if not invocation.ok:
        return everything
    if not report_failures or not isinstance(invocation.response, dict):
        return set()
    failures = invocation.response.get("batchItemFailures") or []
    ids = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
    if len(ids) != len(failures) or not ids <= everything:
        return everything  # an identifier Lambda cannot match fails the whole batch, as in AWS
    return {str(i) for i in ids}


def item_error(invocation: Invocation) -> str:
    if invocation.error is not None:
        return str(invocation.error)
    if invocation.timed_out:
        return "Task timed out"
    return "reported in batchItemFailures"


def passes(filters: tuple[Mapping[str, Any], ...], record: Mapping[str, Any]) -> bool:
    """Lambda's event filtering: any filter matching keeps the record (body read as JSON)."""
    if not filters:
        return True
    from moto.events.models import EventPattern  # the same matcher as the local bus

    candidate: Any = dict(record)
    with contextlib.suppress(json.JSONDecodeError):
        candidate["body"] = json.loads(record["body"])
    return any(EventPattern(None, dict(f)).matches_event(candidate) for f in filters)
