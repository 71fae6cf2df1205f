"""Which bus events mean "add the rules" and which mean "remove ours". Pure tables.

Add only after an accept that happened (or would have, in a dry run): a failed accept opens
nothing. Remove after anything that ends the connection; removing when nothing is recorded is a
no-op, so a remove trigger is never harmful.
"""

from __future__ import annotations

from dataclasses import dataclass

from acceptor.security_groups.model import Operation

DECIDED = "Endpoint Connection Decided"
STATE_CHANGED = "Endpoint Connection State Changed"

# (decision, action result) -> operation. A pair that is absent means: nothing to do.
DECIDED_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("accept", "succeeded"): "add",
    ("accept", "dry-run"): "add",
    ("reject", "succeeded"): "remove",
    ("reject", "dry-run"): "remove",
}

# A `skipped` action (the connection was not in the state to act from, e.g. a re-delivery after
# the accept) follows the state the connection is in now, when it agrees with the decision.
SKIPPED_STATES: dict[tuple[str, str], Operation] = {
    ("accept", "pending"): "add",
    ("accept", "available"): "add",
    ("reject", "rejected"): "remove",
}

# `Endpoint Connection State Changed` state -> operation.
STATE_OPERATIONS: dict[str, Operation] = {
    "rejected": "remove",
    "deleting": "remove",
    "deleted": "remove",
    "expired": "remove",
    "failed": "remove",
}


@dataclass(frozen=True)
class Trigger:
    detail_type: str
    decision: str | None = None
    action_result: str | None = None
    state: str | None = None
    """`state_after` of a Decided event, `state` of a State Changed event."""

    @property
    def name(self) -> str:
        """Short name for logs and the report: `accept`, `reject`, `state:deleted`..."""
        if self.detail_type == DECIDED:
            return str(self.decision)
        return f"state:{self.state}"


def operation_for(trigger: Trigger) -> tuple[Operation | None, str]:
    """The operation a trigger asks for, and why (or why nothing)."""
    if trigger.detail_type == DECIDED:
        return _decided(trigger)
    if trigger.detail_type == STATE_CHANGED:
        operation = STATE_OPERATIONS.get(str(trigger.state))
        if operation is None:
            return None, f"state {trigger.state!r} needs no security-group change"
        return operation, f"the connection is {trigger.state}"
    return None, f"{trigger.detail_type!r} is not an event this function acts on"


def _decided(trigger: Trigger) -> tuple[Operation | None, str]:
    decision, result = str(trigger.decision), str(trigger.action_result)
    operation = DECIDED_OPERATIONS.get((decision, result))
    if operation is not None:
        return operation, f"{decision} {result}"
    if result == "skipped":
        operation = SKIPPED_STATES.get((decision, str(trigger.state)))
        if operation is not None:
            return operation, f"{decision} skipped; the connection is {trigger.state}"
    return None, f"decision {decision} with action {result} needs no security-group change"
