"""Decide's intents (docs/architecture.md, "Intents"): an accept or reject is written down
before it is called, and closed once its decision is delivered.

The intent holds the decision record as planned. When a call's response is lost (a 5xx after
AWS made the change) the request fails and the queue brings it back; its re-read then shows
the connection past the state Decide decides from. Instead of deciding that again (it would be
"ignore"), the flow finds the open intent and completes the SAME decision: the record, the
Decided event (so security groups open) and the notification, with the action's result taken
from the state re-read now.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from acceptor.aws.decision_log import IntentConflict
from acceptor.aws.errors import AwsError
from acceptor.contract import Action
from acceptor.decision.actions import DONE_STATES, Act
from acceptor.decision.connection import AVAILABLE, PENDING, Connection
from acceptor.decision.decide_one import Decision
from acceptor.decision.record import decided_json, decision_record
from acceptor.flows.decide.ports import Log
from acceptor.flows.decide.results import Claimed, RecordFailed, StageResults

PLANNED = "not yet known: the intent was written before the call"
# The decision record's own keys, beside the Decided detail.
RECORD_ONLY = frozenset({"kind", "facts", "expires_at"})


@dataclass(frozen=True)
class Resumed:
    """An open intent found for a request whose connection is past its decidable state."""

    record: dict[str, Any]
    """The decision record, its action's result and `state_after` settled from the re-read."""
    claim: str

    @property
    def detail(self) -> dict[str, Any]:
        return {k: v for k, v in self.record.items() if k not in RECORD_ONLY}


def claim_of(decision: Decision, policy_hash: str) -> str:
    """Who an intent belongs to: the same endpoint decided under the same policy. Requests of
    other origins for it make the same decision, so they may take the intent over."""
    return f"{decision.request.endpoint_id}|{policy_hash}"


def begin(
    decisions: dict[Claimed, Decision],
    log: Log | None,
    pool: Executor,
    *,
    policy_hash: str,
    dry_run: bool,
    decided_at: datetime,
    ttl: timedelta,
) -> StageResults[Decision]:
    """Open an intent for every decision that calls EC2. A request whose intent could not be
    written is not acted on (the queue retries it). Without a decision log there are none."""
    results: StageResults[Decision] = StageResults()
    acting: list[tuple[Claimed, Decision]] = []
    for request, decision in decisions.items():
        if decision.action == "none" or dry_run or log is None:
            results.done[request] = decision
        else:
            acting.append((request, decision))
    if log is None or not acting:
        return results

    def write(pair: tuple[Claimed, Decision]) -> Exception | None:
        _, decision = pair
        detail = decided_json(
            decision,
            action=Action(type=decision.action, result="failed", error=PLANNED),
            state_after=None,
            dry_run=dry_run,
            decided_at=decided_at,
            policy_hash=policy_hash,
        )
        record = decision_record(detail, decision, decided_at, ttl)
        intent = {
            "endpoint_id": decision.request.endpoint_id,
            "claim": claim_of(decision, policy_hash),
            "action": decision.action,
            "started_at": decided_at.isoformat(),
            "record": record,
            "expires_at": record["expires_at"],
        }
        try:
            log.begin_intent(intent, decided_at)
        except IntentConflict as err:
            return RecordFailed(f"not acted on: {err} (the queue retries it)")
        except AwsError as err:
            return err
        return None

    for (request, decision), error in zip(acting, pool.map(write, acting), strict=True):
        if error is None:
            results.done[request] = decision
        else:
            results.failed[request] = error
    return results


def decidable(request: Claimed, connection: Connection | None) -> bool:
    """Whether the re-read connection is in the state Decide decides from."""
    if connection is None:
        return False
    wanted = AVAILABLE if request.request.origin == "revocation" else PENDING
    return connection.state == wanted


def resume(
    connections: Mapping[Claimed, Connection | None], log: Log | None, pool: Executor
) -> StageResults[Resumed]:
    """Done for requests past their decidable state that have an open intent; skipped for
    those that have none (decided as usual); failed when the intent could not be read."""
    results: StageResults[Resumed] = StageResults()
    candidates = [r for r, c in connections.items() if not decidable(r, c)]
    if log is None or not candidates:
        return results

    def read(request: Claimed) -> dict[str, Any] | AwsError | None:
        try:
            return log.open_intent(request.request.endpoint_id)
        except AwsError as err:
            return err

    for request, found in zip(candidates, pool.map(read, candidates), strict=True):
        if isinstance(found, AwsError):
            results.failed[request] = found
        elif found is None:
            results.skipped[request] = "no open intent"
        else:
            connection = connections[request]
            state = connection.state if connection is not None else None
            results.done[request] = Resumed(settled_record(found, state), str(found["claim"]))
    return results


def settled_record(intent: Mapping[str, Any], state_now: str | None) -> dict[str, Any]:
    """The intent's record with its action settled from the state re-read now: done when the
    connection is where the action leads, failed (and why) otherwise."""
    action: Act = intent["action"]
    record = dict(intent["record"])
    if state_now in DONE_STATES[action]:
        record["action"] = {"type": action, "result": "succeeded", "error": None}
    else:
        seen = state_now or "no connection (DescribeVpcEndpointConnections shows none)"
        record["action"] = {
            "type": action,
            "result": "failed",
            "error": f"the {action} call's response was lost, and a re-read shows {seen}",
        }
    record["state_after"] = state_now
    return record
