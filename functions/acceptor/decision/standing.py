"""Where a connection stands: what EC2 shows of it now, joined with its last decision record.

The one join of the operator's view (`acceptor connections`) and of NotifyFunction's daily
digest of held requests (docs/notifications.md, "The daily digest"): both re-read the
connections, read each one's newest decision record from the decision log, and say how old the
request is and when a hold turns into a reject (the policy's `hold.expires_after`, computed as
the sweep computes it). Pure: the records and the clock are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from acceptor.decision.connection import PENDING, Connection
from acceptor.decision.decide_one import hold_expires_at
from acceptor.policy.policy_set import PolicySet


@dataclass(frozen=True)
class LastDecision:
    """The fields of a decision record (docs/events.md, the Decided detail) a reader shows."""

    decision: str
    rule: str | None
    reason: str | None
    missing_facts: tuple[str, ...] = ()
    unknown_reasons: Mapping[str, str] = field(default_factory=dict)
    notify: tuple[str, ...] = ()
    approved_by: str | None = None
    decided_at: str | None = None
    dry_run: bool = False

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LastDecision:
        reasons = record.get("unknown_reasons") or {}
        return cls(
            decision=str(record.get("decision")),
            rule=_text(record.get("rule")),
            reason=_text(record.get("reason")),
            missing_facts=tuple(str(f) for f in record.get("missing_facts") or ()),
            unknown_reasons={str(k): str(v) for k, v in dict(reasons).items()},
            notify=tuple(str(n) for n in record.get("notify") or ()),
            approved_by=_text(record.get("approved_by")),
            decided_at=_text(record.get("decided_at")),
            dry_run=bool(record.get("dry_run")),
        )


@dataclass(frozen=True)
class Standing:
    connection: Connection
    last: LastDecision | None
    expires_at: datetime | None
    """When a hold of this connection turns into a reject (None: no file sets a limit)."""

    @property
    def held(self) -> bool:
        """Still waiting for acceptance, and the last decision held it."""
        return (
            self.connection.state == PENDING
            and self.last is not None
            and self.last.decision == "hold"
        )

    @property
    def undecided(self) -> bool:
        """Waiting for acceptance with no decision on record (fail closed: shown, not hidden)."""
        return self.connection.state == PENDING and self.last is None

    def age(self, now: datetime) -> timedelta:
        return now - self.connection.created_at


def standing(
    connection: Connection, record: Mapping[str, Any] | None, policy: PolicySet
) -> Standing:
    return Standing(
        connection=connection,
        last=None if record is None else LastDecision.from_record(record),
        expires_at=hold_expires_at(policy.compiled.plan(connection.service_id), connection),
    )


def standings(
    connections: Sequence[Connection],
    records: Mapping[str, Mapping[str, Any]],
    policy: PolicySet,
) -> list[Standing]:
    """Each connection with its last decision record (by endpoint ID), oldest request first."""
    ordered = sorted(connections, key=lambda c: c.created_at)
    return [standing(c, records.get(c.endpoint_id), policy) for c in ordered]


def oldest(connections: Sequence[Connection]) -> datetime | None:
    """The oldest creation time: no decision about these connections is older."""
    return min((c.created_at for c in connections), default=None)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
