"""Decide: a batch of Requested events → claims, re-read, facts, decisions, actions, outputs.

Stages, each over the whole batch so that AWS calls grow with services and accounts, not with
requests: parse → claim (idempotency; one request per endpoint) → re-read the connections (per
service; a service a `limits` governs is listed whole, to count them) → gather facts (per
consumer account) → decide (`decide_one`, pure) → act (one call per service and action) →
deliver (record, publish) → finish (complete the claims). Each stage returns per-request results
(done, skipped or failed); a request that fails in a stage goes no further: its claim is
released and its SQS message is reported as a batch item failure, so the queue retries it (and
dead-letters it in the end). Nothing is accepted on an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError

from acceptor.aws.errors import AwsError
from acceptor.aws.idempotency import Guard
from acceptor.contract import DecidedDetail, RequestedDetail, RequestedEvent
from acceptor.decision.connection import Connection
from acceptor.decision.decide_one import (
    NOT_COUNTED,
    Decision,
    NotCounted,
    decide_one,
    needs_facts,
)
from acceptor.decision.gather import RequestFacts
from acceptor.decision.records import NO_RECORDS, Records
from acceptor.flows.decide.act import act
from acceptor.flows.decide.claim import claim
from acceptor.flows.decide.deliver import Delivered, deliver, deliver_resumed
from acceptor.flows.decide.gather import gather
from acceptor.flows.decide.intents import begin, claim_of, resume
from acceptor.flows.decide.ports import (
    Approvals,
    Connections,
    Consumers,
    Delivery,
    Log,
    Organizations,
)
from acceptor.flows.decide.reread import count_connections, reread
from acceptor.flows.decide.results import Claimed, RecordFailed, StageResults
from acceptor.flows.telemetry import ERRORS, count, logger, tracer
from acceptor.policy.policy_set import PolicySet

# Claims, completions and consumer lookups are one call each per request or account: they run
# this many at a time (boto3 clients are thread-safe), so a sweep of thousands of requests
# fits in the function's timeout.
WORKERS = 16

T = TypeVar("T")


@dataclass
class DecideDeps:
    ec2: Connections
    consumers: Consumers
    organizations: Organizations
    bus: Delivery
    guard: Guard
    log: Log | None
    clock: Callable[[], datetime]
    managed: frozenset[str] | None = None  # None: not screened (tests); wiring always sets it
    approvals: Approvals | None = None
    """Read for requests with origin `approval`; without it, no approval ever applies."""
    remaining_ms: Callable[[], int | None] = lambda: None


@dataclass
class BatchOutcome:
    failures: dict[str, Exception] = field(default_factory=dict)
    """SQS message ID → why its request was not completed (reported as a batch item failure)."""
    decided: list[DecidedDetail] = field(default_factory=list)
    """The Decided details of this batch (quiet decisions have none)."""
    duplicates: list[str] = field(default_factory=list)


@tracer.capture_method
def decide_batch(
    messages: Sequence[tuple[str, str]],
    policy: PolicySet,
    deps: DecideDeps,
    *,
    dry_run: bool,
    ttl: timedelta,
) -> BatchOutcome:
    """`messages` are (SQS message ID, body) pairs; bodies are Requested bus events."""
    outcome = BatchOutcome()
    requests = _parse(messages, outcome)
    failed: dict[Claimed, Exception] = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        claims = claim(
            requests,
            policy.version_hash,
            deps.guard,
            deps.bus,
            deps.log,
            pool,
            deps.remaining_ms,
            dry_run=dry_run,
        )
        outcome.failures.update(claims.failures)
        outcome.duplicates.extend(claims.duplicates)
        now = deps.clock()
        reread_results = reread(claims.claimed, deps.ec2)
        found = _merge(failed, reread_results)
        counts = count_connections(found, deps.ec2, policy, deps.managed)
        # A connection EC2 no longer shows is still decided: `decide_one` leaves it alone.
        connections: dict[Claimed, Connection | None] = {
            **found,
            **dict.fromkeys(reread_results.skipped),
        }
        # An open intent is completed as it was planned, never decided again (intents.py).
        resumed = _merge(failed, resume(connections, deps.log, pool))
        for request in resumed:
            del connections[request]
            found.pop(request, None)
        to_gather = {
            request: connection
            for request, connection in found.items()
            if needs_facts(request.request, connection, policy, deps.managed)
        }
        facts = _merge(failed, gather(to_gather, deps.consumers, deps.organizations, pool))
        decisions = _merge(failed, _decide(connections, facts, counts, failed, policy, deps, now))
        planned = _merge(
            failed,
            begin(
                decisions,
                deps.log,
                pool,
                policy_hash=policy.version_hash,
                dry_run=dry_run,
                decided_at=now,
                ttl=ttl,
            ),
        )
        intents = {
            request: claim_of(decision, policy.version_hash)
            for request, decision in planned.items()
            if decision.action != "none" and not dry_run and deps.log is not None
        }
        intents.update((request, found_intent.claim) for request, found_intent in resumed.items())
        acted = _merge(failed, act(planned, deps.ec2, dry_run=dry_run))
        delivered = _merge(
            failed,
            deliver(
                {request: (decisions[request], done) for request, done in acted.items()},
                policy.version_hash,
                deps.bus,
                deps.log,
                dry_run=dry_run,
                decided_at=now,
                ttl=ttl,
            ),
        )
        delivered.update(_merge(failed, deliver_resumed(resumed, deps.bus, deps.log)))
        _finish(claims.claimed, failed, delivered, deps.guard, outcome, pool, intents, deps.log)
    count(ERRORS, len(outcome.failures))
    return outcome


def _merge(failed: dict[Claimed, Exception], results: StageResults[T]) -> dict[Claimed, T]:
    """Keep a stage's failures (logged once), pass its done requests on."""
    for request, error in results.failed.items():
        logger.warning(
            "request not decided, the queue retries it",
            extra={**request.log_keys(), "error": str(error)},
        )
        failed[request] = error
    return results.done


def _decide(
    connections: dict[Claimed, Connection | None],
    facts: dict[Claimed, RequestFacts],
    counts: dict[Claimed, int | None],
    failed: dict[Claimed, Exception],
    policy: PolicySet,
    deps: DecideDeps,
    now: datetime,
) -> StageResults[Decision]:
    """`decide_one` for every request that got this far. A revocation check that the policy
    rejects and that has no due report yet is decided again with the log's report of an
    earlier sweep, read only for these (the second step of the two-step revocation). `counts`
    holds the connection counts of the requests a limit governs (`reread.count_connections`)."""
    results: StageResults[Decision] = StageResults()
    for request, connection in connections.items():
        if request in failed:
            continue
        gathered = facts.get(request)
        if (
            connection is not None
            and gathered is None
            and needs_facts(request.request, connection, policy, deps.managed)
        ):
            continue  # its gather failed
        records = NO_RECORDS
        if request.request.origin == "approval" and connection is not None:
            # The approval is read from its table, never taken from the event.
            try:
                found = deps.approvals.get(request.request.endpoint_id) if deps.approvals else None
            except (AwsError, ValueError, KeyError) as err:
                results.failed[request] = err
                continue
            records = Records(approval=found)
        connections_of: int | NotCounted | None = counts.get(request, NOT_COUNTED)
        decision = decide_one(
            request.request,
            connection,
            gathered,
            records,
            policy,
            now,
            managed=deps.managed,
            connections=connections_of,
        )
        if decision.revocation == "reported" and deps.log is not None:
            try:
                notice = deps.log.notice(request.request.endpoint_id)
            except AwsError as err:
                results.failed[request] = err
                continue
            if notice is not None:
                decision = decide_one(
                    request.request,
                    connection,
                    gathered,
                    Records(notice=notice),
                    policy,
                    now,
                    managed=deps.managed,
                )
        results.done[request] = decision
    return results


def _finish(
    claimed: list[Claimed],
    failed: dict[Claimed, Exception],
    delivered: dict[Claimed, Delivered],
    guard: Guard,
    outcome: BatchOutcome,
    pool: Executor,
    intents: dict[Claimed, str],
    log: Log | None,
) -> None:
    """Complete the claims of decided requests, release the others; report what failed.
    The intent of a completed claim is closed (its outputs are now in the claim's record);
    a failed request's stays open for its retry."""
    for request in claimed:
        if request not in failed and request not in delivered:
            failed[request] = RecordFailed("the request reached no decision")

    def close(request: Claimed) -> None:
        # The decision stands either way: a claim left open only delays a duplicate until it
        # expires, and that duplicate then finds the connection no longer pending.
        try:
            if request in failed:
                guard.release(request.key, failed[request])
            else:
                guard.complete(request.key, delivered[request].result)
                claim_name = intents.get(request)
                if claim_name is not None and log is not None:
                    log.close_intent(request.request.endpoint_id, claim_name)
        except AwsError as err:
            logger.warning(
                "idempotency record not closed", extra={**request.log_keys(), "error": str(err)}
            )

    list(pool.map(close, claimed))
    for request in claimed:
        error = failed.get(request)
        if error is None and not delivered[request].complete:
            error = RecordFailed("outputs not yet delivered")
        if error is not None:
            for message_id in request.message_ids:
                outcome.failures[message_id] = error
        detail = delivered[request].detail if request in delivered else None
        if detail is not None:
            outcome.decided.append(detail)


def _parse(
    messages: Sequence[tuple[str, str]], outcome: BatchOutcome
) -> list[tuple[str, RequestedDetail]]:
    parsed = []
    for message_id, body in messages:
        try:
            parsed.append((message_id, RequestedEvent.model_validate_json(body).detail))
        except ValidationError as err:
            logger.error(
                "not a Requested event", extra={"message_id": message_id, "body": body[:4000]}
            )
            outcome.failures[message_id] = err
    return parsed


def services_named(bodies: Iterable[object]) -> set[str]:
    """The services a batch names, to look the managed set up again when it lacks one. A body
    that does not parse is left to decide_batch, which reports it."""
    services = set()
    for body in bodies:
        try:
            services.add(RequestedEvent.model_validate_json(str(body)).detail.service_id)
        except ValidationError:
            continue
    return services
