"""What a message tells people about a connection, to tell it once per change
(docs/notifications.md, "Once per change").

A Decided event tells a decision (its decision, rule and the connection's state); a State
Changed event tells a state. NotifyFunction keeps, per endpoint, what people were last told
and when it was observed (`aws/told.py`); an event that tells nothing new, or that was observed
before what people were last told, is not sent. Other events (manual overrides, security-group
warnings) are always sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from acceptor.contract import DecidedDetail, StateChangedDetail
from acceptor.notify.events import DECIDED, STATE_CHANGED, Envelope


@dataclass(frozen=True)
class Told:
    endpoint_id: str
    state: str
    observed_at: datetime
    """When the truth told was read: `decided_at`, or the State Changed event's time."""
    event_id: str
    """The event that tells it: its own retries are sent again (each channel once)."""
    decision: str | None = None
    """None for a state change: it leaves the decision people were told as it was."""
    rule: str | None = None


def told_of(envelope: Envelope) -> Told | None:
    """What the event tells, for Decided and State Changed events; None for the others."""
    if envelope.detail_type == DECIDED:
        decided = DecidedDetail.model_validate(envelope.detail)
        state = decided.state_after or decided.state_before or "unknown"
        return Told(
            decided.endpoint_id,
            state,
            decided.decided_at,
            envelope.id,
            decision=f"{decided.decision}{' (dry run)' if decided.dry_run else ''}",
            rule=decided.rule or "",
        )
    if envelope.detail_type == STATE_CHANGED:
        changed = StateChangedDetail.model_validate(envelope.detail)
        return Told(changed.endpoint_id, changed.state, envelope.time, envelope.id)
    return None
