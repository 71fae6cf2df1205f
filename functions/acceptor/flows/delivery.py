"""The outputs of a decision: its record in the decision log and its Decided event.

Both are kept in the idempotency record with a delivered flag each. An action is never
repeated for a missing output: when the log or the bus fails, the claim is still completed
(the action happened) and the SQS message is reported failed; its next delivery finds the
completed claim and only delivers what is missing. Writing a record twice is harmless (same
key); a Decided event may then arrive twice, which readers tell by `endpoint_id` + `decided_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from acceptor.aws.bus import FailedEntry
from acceptor.aws.decision_log import DecisionLog, DecisionsNotWritten
from acceptor.aws.errors import AwsError
from acceptor.aws.idempotency import Guard
from acceptor.contract import BusEvent, DecidedDetail, decided
from acceptor.decision.outcome import decided_detail, decision_record, latency_ms
from acceptor.decision.verdict import RevocationNotice
from acceptor.flows.pending import Pending
from acceptor.flows.telemetry import DECISION_METRICS, LATENCY, count, logger, milliseconds
from acceptor.policy.policy_set import PolicySet

MAX_EVENT_RULES = 50


class Delivery(Protocol):
    def try_put(self, events: Sequence[BusEvent]) -> list[FailedEntry]: ...


def deliver(
    pendings: list[Pending],
    policy: PolicySet,
    bus: Delivery,
    log: DecisionLog | None,
    *,
    dry_run: bool,
    decided_at: datetime,
    ttl: timedelta,
) -> None:
    ready: list[Pending] = []
    outputs: list[dict[str, Any]] = []
    for pending in pendings:
        verdict, action = pending.verdict, pending.action
        if not pending.ok or verdict is None or action is None:
            continue
        ready.append(pending)
        if verdict.quiet:
            logger.info(verdict.reason, extra=pending.log_keys())
            pending.result = {"quiet": True, "recorded": True, "published": True}
            pending.delivered = True
            continue
        detail = decided_detail(
            request=pending.request,
            connection=pending.connection,
            gathered=pending.gathered,
            evaluation=pending.evaluation,
            verdict=verdict,
            action=action,
            state_after=pending.state_after,
            policy=policy,
            dry_run=dry_run,
            decided_at=decided_at,
        )
        pending.detail = detail
        result: dict[str, Any] = {
            "detail": detail.model_dump(mode="json"),
            "records": _records(detail, pending, log, ttl),
            "recorded": False,
            "published": False,
        }
        pending.result = result
        outputs.append(result)
    _write(outputs, log)
    _publish(outputs, bus)
    for pending in ready:
        if pending.detail is None or pending.result is None:
            continue
        pending.delivered = bool(pending.result["recorded"] and pending.result["published"])
        _tell(pending.detail, pending)


def redeliver(
    result: Mapping[str, Any] | None,
    bus: Delivery,
    log: DecisionLog | None,
    guard: Guard,
    key: Mapping[str, str],
) -> bool:
    """A duplicate request: deliver whatever its first run could not. True when all is out."""
    if result is None or (result.get("recorded") and result.get("published")):
        return True
    again = dict(result)
    _write([again], log)
    _publish([again], bus)
    try:
        guard.complete(key, again)
    except AwsError as err:
        logger.warning("idempotency record not updated", extra={"error": str(err)})
        return False
    return bool(again["recorded"] and again["published"])


def _records(
    detail: DecidedDetail, pending: Pending, log: DecisionLog | None, ttl: timedelta
) -> list[dict[str, Any]]:
    if log is None:
        return []
    records = [decision_record(detail, pending.gathered, ttl)]
    if detail.revocation == "reported":
        notice = RevocationNotice(detail.decided_at, detail.policy_hash, detail.correlation_id)
        records.append(log.notice_item(detail.endpoint_id, notice))
    return records


def _write(outputs: list[dict[str, Any]], log: DecisionLog | None) -> None:
    todo = [o for o in outputs if not o["recorded"]]
    if log is None:
        for output in todo:
            output["recorded"] = True
        return
    items = [item for o in todo for item in o["records"]]
    try:
        log.write(items)
        unwritten: set[str] = set()
    except DecisionsNotWritten as err:
        unwritten = set(err.endpoint_ids)
    except AwsError as err:
        logger.error("decision records not written", extra={"error": str(err)})
        return
    for output in todo:
        output["recorded"] = output["detail"]["endpoint_id"] not in unwritten


def _publish(outputs: list[dict[str, Any]], bus: Delivery) -> None:
    todo = [o for o in outputs if not o["published"]]
    events = [decided(for_the_bus(DecidedDetail.model_validate(o["detail"]))) for o in todo]
    if not events:
        return
    try:
        failed = {entry.index for entry in bus.try_put(events)}
    except AwsError as err:
        logger.error("Decided events not put on the bus", extra={"error": str(err)})
        return
    for index, output in enumerate(todo):
        output["published"] = index not in failed


def for_the_bus(detail: DecidedDetail) -> DecidedDetail:
    """The event keeps the first rules only: PutEvents takes 256 KB a call. The decision
    record keeps them all."""
    if len(detail.rules) <= MAX_EVENT_RULES:
        return detail
    return detail.model_copy(update={"rules": detail.rules[:MAX_EVENT_RULES]})


def _tell(detail: DecidedDetail, pending: Pending) -> None:
    logger.info(
        detail.reason,
        extra={
            **pending.log_keys(),
            "action": detail.action.type,
            "result": detail.action.result,
            "missing_facts": detail.missing_facts,
            "dry_run": detail.dry_run,
        },
    )
    count(DECISION_METRICS[detail.decision])
    if detail.action.type != "none" and detail.action.result in ("succeeded", "dry-run"):
        latency = latency_ms(detail)
        if latency is not None:
            milliseconds(LATENCY, latency)
