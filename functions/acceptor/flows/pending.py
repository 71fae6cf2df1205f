"""One request on its way through a Decide batch: what each stage learned about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acceptor.contract import Action, DecidedDetail, RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.gather import RequestFacts
from acceptor.decision.verdict import Verdict
from acceptor.policy.evaluate import Evaluation


class RecordFailed(Exception):
    """A request that was not completed in this invocation; the queue delivers it again."""


@dataclass
class Pending:
    key: dict[str, str]
    message_ids: list[str]
    request: RequestedDetail
    connection: Connection | None = None
    verdict: Verdict | None = None
    gathered: RequestFacts | None = None
    evaluation: Evaluation | None = None
    action: Action | None = None
    state_after: str | None = None
    detail: DecidedDetail | None = None
    result: dict[str, Any] | None = None
    """What the idempotency record keeps: the outputs, and whether each was delivered."""
    delivered: bool = False
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def log_keys(self) -> dict[str, Any]:
        keys: dict[str, Any] = {
            "service_id": self.request.service_id,
            "endpoint_id": self.request.endpoint_id,
            "account": self.request.account,
            "origin": self.request.origin,
            "correlation_id": self.request.correlation_id,
        }
        if self.verdict is not None:
            keys["decision"] = self.verdict.decision
            keys["rule"] = self.verdict.rule
        return keys
