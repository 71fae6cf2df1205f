"""The outputs of a decision: its record in the decision log and its Decided event.

Both are kept in the idempotency record with a delivered flag each. An action is never
repeated for a missing output: when the log or the bus fails, the claim is still completed
(the action happened) and the SQS message is reported failed; its next delivery finds the
completed claim and only delivers what is missing. Writing a record twice is harmless (same
key); a Decided event may then arrive twice, which readers tell by `endpoint_id` + `decided_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from acceptor.aws.decision_log import DecisionsNotWritten
from acceptor.aws.errors import AwsError
from acceptor.aws.idempotency import Guard
from acceptor.contract import DecidedDetail, decided
from acceptor.decision.decide_one import Decision
from acceptor.decision.record import decided_json, decision_record, latency_ms
from acceptor.decision.records import RevocationNotice
from acceptor.flows.decide.act import Acted
from acceptor.flows.decide.intents import Resumed
from acceptor.flows.decide.ports import Delivery, Log
from acceptor.flows.decide.results import Claimed, StageResults
from acceptor.flows.telemetry import DECISION_METRICS, LATENCY, count, logger, milliseconds

# Decided events built and put on the bus at a time (PutEvents takes 10 per call).
PUBLISH_CHUNK = 100


@dataclass(frozen=True)
class Delivered:
    result: dict[str, Any]
    """What the idempotency record keeps: the outputs, and whether each was delivered."""
    detail: DecidedDetail | None = None
    """None for a quiet decision (nothing recorded or published)."""

    @property
    def complete(self) -> bool:
        return bool(self.result["recorded"] and self.result["published"])


def deliver(
    acted: dict[Claimed, tuple[Decision, Acted]],
    policy_hash: str,
    bus: Delivery,
    log: Log | None,
    *,
    dry_run: bool,
    decided_at: datetime,
    ttl: timedelta,
) -> StageResults[Delivered]:
    """Done for every request: `Delivered.complete` says whether both outputs went out."""
    results: StageResults[Delivered] = StageResults()
    outputs: list[dict[str, Any]] = []
    details: dict[Claimed, DecidedDetail] = {}
    for request, (decision, done) in acted.items():
        if decision.quiet:
            logger.info(decision.reason, extra=_log_keys(request, decision))
            results.done[request] = Delivered({"quiet": True, "recorded": True, "published": True})
            continue
        detail_json = decided_json(
            decision,
            action=done.action,
            state_after=done.state_after,
            dry_run=dry_run,
            decided_at=decided_at,
            policy_hash=policy_hash,
        )
        # The contract is checked before anything goes out (fail closed on a broken detail).
        detail = DecidedDetail.model_validate(detail_json)
        details[request] = detail
        result: dict[str, Any] = {
            "detail": detail_json,
            "records": _records(detail, detail_json, decision, log, ttl),
            "recorded": False,
            "published": False,
        }
        results.done[request] = Delivered(result, detail)
        outputs.append(result)
    _write(outputs, log)
    _publish(outputs, bus)
    for request, detail in details.items():
        _tell(detail, _log_keys(request, acted[request][0]))
    return results


def deliver_resumed(
    resumed: Mapping[Claimed, Resumed], bus: Delivery, log: Log | None
) -> StageResults[Delivered]:
    """The decisions of open intents (flows/decide/intents.py): the record and the Decided
    event that the lost call's invocation never delivered, as it planned them."""
    results: StageResults[Delivered] = StageResults()
    outputs: list[dict[str, Any]] = []
    for request, found in resumed.items():
        detail = DecidedDetail.model_validate(found.detail)
        result: dict[str, Any] = {
            "detail": found.detail,
            "records": [found.record] if log is not None else [],
            "recorded": False,
            "published": False,
        }
        results.done[request] = Delivered(result, detail)
        outputs.append(result)
        logger.warning(
            "completing a decision whose call lost its response",
            extra={**request.log_keys(), "action": detail.action.type},
        )
    _write(outputs, log)
    _publish(outputs, bus)
    for request, done in results.done.items():
        assert done.detail is not None
        _tell(done.detail, {**request.log_keys(), "decision": done.detail.decision})
    return results


def redeliver(
    result: Mapping[str, Any] | None,
    bus: Delivery,
    log: Log | None,
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
    detail: DecidedDetail,
    detail_json: Mapping[str, Any],
    decision: Decision,
    log: Log | None,
    ttl: timedelta,
) -> list[dict[str, Any]]:
    if log is None:
        return []
    records = [decision_record(detail_json, decision, detail.decided_at, ttl)]
    if detail.revocation == "reported":
        notice = RevocationNotice(detail.decided_at, detail.policy_hash, detail.correlation_id)
        records.append(log.notice_item(detail.endpoint_id, notice))
    return records


def _write(outputs: list[dict[str, Any]], log: Log | None) -> None:
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
    """The events are built and put PUBLISH_CHUNK at a time: a batch of thousands never holds
    every event and its JSON at once (docs/architecture.md, "Memory"). A failure stops there:
    the events already put are marked so, the rest are put again by a retry."""
    todo = [o for o in outputs if not o["published"]]
    for start in range(0, len(todo), PUBLISH_CHUNK):
        chunk = todo[start : start + PUBLISH_CHUNK]
        events = [decided(DecidedDetail.model_validate(o["detail"])) for o in chunk]
        try:
            failed = {entry.index for entry in bus.try_put(events)}
        except AwsError as err:
            logger.error("Decided events not put on the bus", extra={"error": str(err)})
            return
        for index, output in enumerate(chunk):
            output["published"] = index not in failed


def _log_keys(request: Claimed, decision: Decision) -> dict[str, Any]:
    return {**request.log_keys(), "decision": decision.decision, "rule": decision.rule}


def _tell(detail: DecidedDetail, keys: dict[str, Any]) -> None:
    logger.info(
        detail.reason,
        extra={
            **keys,
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
