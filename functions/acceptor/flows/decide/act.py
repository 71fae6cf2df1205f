"""Decide's act stage: one accept and one reject call per service (per chunk of IDs).

Items that fail with a throttling-like code are tried once more in this invocation; after
that a still-transient failure sends the request back to the queue. Any other failure is
settled by re-reading the connection: already in the wanted state is success, anything else
is reported as a failed action in the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from acceptor.aws.errors import AwsError
from acceptor.contract import Action
from acceptor.decision.actions import Act, ItemFailure, plan_batches, settle
from acceptor.decision.decide_one import Decision
from acceptor.flows.decide.ports import Connections
from acceptor.flows.decide.results import Claimed, RecordFailed, StageResults
from acceptor.flows.telemetry import logger


@dataclass(frozen=True)
class Acted:
    action: Action
    state_after: str | None


def act(
    decisions: dict[Claimed, Decision], ec2: Connections, *, dry_run: bool
) -> StageResults[Acted]:
    results: StageResults[Acted] = StageResults()
    acting: list[tuple[Claimed, Act]] = []
    for request, decision in decisions.items():
        planned = decision.action
        state = decision.connection.state if decision.connection is not None else None
        if planned == "none":
            results.done[request] = Acted(Action(type="none", result="skipped"), state)
        elif dry_run:
            results.done[request] = Acted(Action(type=planned, result="dry-run"), state)
        else:
            acting.append((request, planned))
    if acting:
        _call(acting, ec2, results)
    return results


def _call(
    acting: list[tuple[Claimed, Act]], ec2: Connections, results: StageResults[Acted]
) -> None:
    items = [(c.request.service_id, planned, c.request.endpoint_id) for c, planned in acting]
    failures, broken = _run(items, ec2)
    retry = [item for item in items if item[2] in failures and failures[item[2]].transient]
    if retry:
        logger.info("retrying throttled items once", extra={"count": len(retry)})
        for endpoint_id in (item[2] for item in retry):
            del failures[endpoint_id]
        again, broken_again = _run(retry, ec2)
        failures.update(again)
        broken.update(broken_again)
    states = _states_after([c for c, _ in acting if c.request.endpoint_id not in broken], ec2)
    for request, planned in acting:
        endpoint_id = request.request.endpoint_id
        if endpoint_id in broken:
            results.failed[request] = broken[endpoint_id]
            continue
        state_now = states.get(endpoint_id)
        settled = settle(planned, failures.get(endpoint_id), state_now)
        if settled.retry:
            results.failed[request] = RecordFailed(f"{planned} still failing: {settled.error}")
            continue
        action = Action(type=planned, result=settled.result, error=settled.error)
        results.done[request] = Acted(action, state_now)


def _run(
    items: list[tuple[str, Act, str]], ec2: Connections
) -> tuple[dict[str, ItemFailure], dict[str, Exception]]:
    """Per-item failures, and the items whose whole call failed (with its error)."""
    failures: dict[str, ItemFailure] = {}
    broken: dict[str, Exception] = {}
    for batch in plan_batches(items):
        try:
            failures.update(ec2.act(batch.act, batch.service_id, batch.endpoint_ids))
        except AwsError as err:
            logger.error(
                "accept/reject call failed",
                extra={"service_id": batch.service_id, "act": batch.act, "error": str(err)},
            )
            broken.update((endpoint_id, err) for endpoint_id in batch.endpoint_ids)
    return failures, broken


def _states_after(acted: list[Claimed], ec2: Connections) -> dict[str, str]:
    by_service: dict[str, list[str]] = {}
    for request in acted:
        by_service.setdefault(request.request.service_id, []).append(request.request.endpoint_id)
    states: dict[str, str] = {}
    for service_id, endpoint_ids in by_service.items():
        try:
            found = ec2.connections(service_id, endpoint_ids)
        except AwsError as err:
            # The action's own result still stands; only state_after stays unknown.
            logger.warning("could not re-read states after acting", extra={"error": str(err)})
            continue
        states.update((endpoint_id, c.state) for endpoint_id, c in found.items())
    return states
