"""Acting on verdicts: one accept and one reject call per service (per chunk of IDs).

Items that fail with a throttling-like code are tried once more in this invocation; after
that a still-transient failure sends the request back to the queue. Any other failure is
settled by re-reading the connection: already in the wanted state is success, anything else
is reported as a failed action in the decision.
"""

from __future__ import annotations

from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AwsError
from acceptor.contract import Action
from acceptor.decision.actions import Act, ItemFailure, plan_batches, settle
from acceptor.flows.pending import Pending, RecordFailed
from acceptor.flows.telemetry import logger


def act(pendings: list[Pending], ec2: ProviderEc2, *, dry_run: bool) -> None:
    acting: list[tuple[Pending, Act]] = []
    for pending in pendings:
        if not pending.ok or pending.verdict is None:
            continue
        planned = pending.verdict.action
        if planned == "none":
            pending.action = Action(type="none", result="skipped")
            pending.state_after = _state(pending)
        elif dry_run:
            pending.action = Action(type=planned, result="dry-run")
            pending.state_after = _state(pending)
        else:
            acting.append((pending, planned))
    if acting:
        _call(acting, ec2)


def _call(acting: list[tuple[Pending, Act]], ec2: ProviderEc2) -> None:
    items = [(p.request.service_id, planned, p.request.endpoint_id) for p, planned in acting]
    failures, broken = _run(items, ec2)
    retry = [item for item in items if item[2] in failures and failures[item[2]].transient]
    if retry:
        logger.info("retrying throttled items once", extra={"count": len(retry)})
        for endpoint_id in (item[2] for item in retry):
            del failures[endpoint_id]
        again, broken_again = _run(retry, ec2)
        failures.update(again)
        broken.update(broken_again)
    states = _states_after([p for p, _ in acting if p.request.endpoint_id not in broken], ec2)
    for pending, planned in acting:
        endpoint_id = pending.request.endpoint_id
        if endpoint_id in broken:
            pending.error = broken[endpoint_id]
            continue
        state_now = states.get(endpoint_id)
        settled = settle(planned, failures.get(endpoint_id), state_now)
        if settled.retry:
            pending.error = RecordFailed(f"{planned} still failing: {settled.error}")
            continue
        pending.action = Action(type=planned, result=settled.result, error=settled.error)
        pending.state_after = state_now


def _run(
    items: list[tuple[str, Act, str]], ec2: ProviderEc2
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


def _states_after(acted: list[Pending], ec2: ProviderEc2) -> dict[str, str]:
    by_service: dict[str, list[str]] = {}
    for pending in acted:
        by_service.setdefault(pending.request.service_id, []).append(pending.request.endpoint_id)
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


def _state(pending: Pending) -> str | None:
    return pending.connection.state if pending.connection is not None else None
