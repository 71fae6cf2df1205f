"""Per-request results of Decide's batched stages: each stage says, for every request it was
given, whether it is done (with its value), skipped (with why) or failed (with the error), the
way Cloud Custodian reports per-resource action results. A stage only passes the done ones on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from acceptor.contract import RequestedDetail

T = TypeVar("T")


class RecordFailed(Exception):
    """A request that was not completed in this invocation; the queue delivers it again."""


@dataclass(eq=False)
class Claimed:
    """A request this invocation holds the idempotency claim for; compared by identity."""

    key: dict[str, str]
    message_ids: list[str]
    request: RequestedDetail

    def log_keys(self) -> dict[str, Any]:
        return {
            "service_id": self.request.service_id,
            "endpoint_id": self.request.endpoint_id,
            "account": self.request.account,
            "origin": self.request.origin,
            "correlation_id": self.request.correlation_id,
        }


@dataclass
class StageResults(Generic[T]):
    """One stage's results over the requests it was given: each is in exactly one of them."""

    done: dict[Claimed, T] = field(default_factory=dict)
    skipped: dict[Claimed, str] = field(default_factory=dict)
    """Nothing for this stage to do, and why (the request goes on without its value)."""
    failed: dict[Claimed, Exception] = field(default_factory=dict)
    """The request goes no further: its claim is released and the queue retries it."""

    def fail(self, requests: Iterable[Claimed], error: Exception) -> None:
        for request in requests:
            self.failed[request] = error
