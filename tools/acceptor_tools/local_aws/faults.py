"""A seeded fault injector for the local AWS: throttling, server errors, slow responses, and
calls applied and then answered with a server error (a lost response).

Each rule names an API action (`AcceptVpcEndpointConnections`, or `*` for every action),
optionally a service (`ec2`, `sns`, ...), a kind and a rate. For every request one number is
drawn from a `random.Random(seed)`; the rules of the action share the interval [0, 1) in
order, so each kind happens at its own rate and a fixed seed gives the same sequence of faults.
The injector is off until it is configured, and `clear()` switches it off again.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["throttle", "server_error", "slow", "applied_then_5xx"]
ANY_ACTION = "*"


@dataclass(frozen=True)
class FaultRule:
    action: str
    kind: FaultKind
    rate: float
    delay_seconds: float = 1.0  # for "slow"
    service: str | None = None  # moto's service name; None = any service

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        if self.delay_seconds < 0:
            raise ValueError(f"delay must not be negative, got {self.delay_seconds}")
        if not self.action:
            raise ValueError("a fault rule needs an action name (or '*')")

    def applies_to(self, service: str, action: str) -> bool:
        return self.action in (ANY_ACTION, action) and self.service in (None, service)


@dataclass(frozen=True)
class ErrorReply:
    code: str
    status: int
    message: str


# (kind, service) -> what AWS answers; EC2 throttles with 503 RequestLimitExceeded, most other
# query/JSON services with 400 Throttling(Exception). Every one of them is retryable by botocore.
ERRORS: dict[tuple[FaultKind, str | None], ErrorReply] = {
    ("throttle", "ec2"): ErrorReply("RequestLimitExceeded", 503, "Request limit exceeded."),
    ("throttle", "sns"): ErrorReply("Throttling", 400, "Rate exceeded"),
    ("throttle", "sts"): ErrorReply("Throttling", 400, "Rate exceeded"),
    ("throttle", None): ErrorReply("ThrottlingException", 400, "Rate exceeded"),
    ("server_error", "ec2"): ErrorReply(
        "InternalError", 500, "An internal error has occurred (injected)."
    ),
    ("server_error", None): ErrorReply(
        "ServiceUnavailable", 503, "Service is unavailable (injected)."
    ),
    # The call took effect, but the caller sees the same server error as above: the response
    # was lost. A retry then meets the state the lost call left behind.
    ("applied_then_5xx", "ec2"): ErrorReply(
        "InternalError", 500, "An internal error has occurred (injected, after applying)."
    ),
    ("applied_then_5xx", None): ErrorReply(
        "ServiceUnavailable", 503, "Service is unavailable (injected, after applying)."
    ),
}


def error_reply(kind: FaultKind, service: str) -> ErrorReply:
    return ERRORS.get((kind, service)) or ERRORS[(kind, None)]


class FaultInjector:
    """Thread-safe: the local AWS server answers requests on several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: tuple[FaultRule, ...] = ()
        self._random = random.Random(0)
        self.seen: Counter[str] = Counter()  # action -> requests while enabled
        self.injected: Counter[tuple[str, FaultKind]] = Counter()  # (action, kind) -> faults

    @property
    def enabled(self) -> bool:
        return bool(self._rules)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    def configure(self, rules: Iterable[FaultRule], seed: int) -> None:
        """Replace the rules and restart the random sequence and the counters."""
        chosen = tuple(rules)
        for rule in chosen:
            total = sum(
                r.rate for r in chosen if r.action == rule.action and r.service == rule.service
            )
            if total > 1.0 + 1e-9:
                raise ValueError(
                    f"fault rates of {rule.action} ({rule.service or 'any service'}) "
                    f"add up to {total:.3f} > 1"
                )
        with self._lock:
            self._rules = chosen
            self._random = random.Random(seed)
            self.seen.clear()
            self.injected.clear()

    def clear(self) -> None:
        with self._lock:
            self._rules = ()
            self.seen.clear()
            self.injected.clear()

    def draw(self, service: str, action: str) -> FaultRule | None:
        """The fault for this request, if any. Requests no rule names draw nothing, so adding
        a rule for one action does not change the sequence of another."""
        with self._lock:
            applicable = [rule for rule in self._rules if rule.applies_to(service, action)]
            if not applicable:
                return None
            self.seen[action] += 1
            point = self._random.random()
            floor = 0.0
            for rule in applicable:
                floor += rule.rate
                if point < floor:
                    self.injected[(action, rule.kind)] += 1
                    return rule
            return None
