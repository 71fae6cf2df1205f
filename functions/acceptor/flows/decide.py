"""Decide: a batch of Requested events → facts, evaluation, batched accept/reject, outputs.

Stages, each over the whole batch so that AWS calls grow with services and accounts, not with
requests: parse → claim (idempotency; one request per endpoint) → re-read the connections
(per service) → gather facts (per consumer account) → evaluate and judge → act (one call per
service and action) → record, publish, complete the claims. A stage that fails for a request
marks it failed: its claim is released and its SQS message is reported as a batch item failure,
so the queue retries it (and dead-letters it in the end). Nothing is accepted on an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from acceptor.approval.verdict import with_approval
from acceptor.aws.approvals import ApprovalStore
from acceptor.aws.consumer import ConsumerReader
from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AwsError
from acceptor.aws.idempotency import Claim, Guard
from acceptor.aws.organizations import OrganizationsReader
from acceptor.contract import RequestedDetail, RequestedEvent
from acceptor.decision.gather import ConsumerFacts, OrgFacts, facts_for
from acceptor.decision.verdict import judge, screen
from acceptor.flows.acting import act
from acceptor.flows.delivery import Delivery, deliver, redeliver
from acceptor.flows.pending import Pending, RecordFailed
from acceptor.flows.telemetry import ERRORS, count, logger, tracer
from acceptor.policy.evaluate import evaluate
from acceptor.policy.policy_set import PolicySet

# Claims, completions and consumer lookups are one call each per request or account: they run
# this many at a time (boto3 clients are thread-safe), so a sweep of thousands of requests
# fits in the function's timeout.
WORKERS = 16


@dataclass
class DecideDeps:
    ec2: ProviderEc2
    consumers: ConsumerReader
    organizations: OrganizationsReader
    bus: Delivery
    guard: Guard
    log: DecisionLog | None
    clock: Callable[[], datetime]
    managed: frozenset[str] = frozenset()
    approvals: ApprovalStore | None = None
    """Read for requests with origin `approval`; without it, no approval ever applies."""
    remaining_ms: Callable[[], int | None] = lambda: None


@dataclass
class BatchOutcome:
    failures: dict[str, Exception] = field(default_factory=dict)
    """SQS message ID → why its request was not completed (reported as a batch item failure)."""
    decided: list[Pending] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def idempotency_key(request: RequestedDetail, policy_hash: str, *, dry_run: bool) -> dict[str, str]:
    """Endpoint, state, policy version, origin and mode; a revocation check also names its
    sweep, since each sweep is one step of the two-step revocation. The mode is part of it so
    that switching DryRun off decides again at once (a dry run acted on nothing)."""
    key = {
        "endpoint_id": request.endpoint_id,
        "state": request.state,
        "policy_hash": policy_hash,
        "origin": request.origin,
        "dry_run": "true" if dry_run else "false",
    }
    if request.origin == "revocation":
        key["sweep"] = request.correlation_id
    if request.origin == "approval":
        # Each approval record is decided once (its ID is the request's correlation ID).
        key["approval"] = request.correlation_id
    return key


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
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        pendings = _claim(requests, policy, deps, outcome, pool, dry_run=dry_run)
        now = deps.clock()
        _reread(pendings, deps.ec2)
        _screen(pendings, policy, deps.managed)
        _gather(pendings, deps.consumers, deps.organizations, pool)
        _judge(pendings, policy, deps.log, now, deps.approvals)
        act(pendings, deps.ec2, dry_run=dry_run)
        deliver(pendings, policy, deps.bus, deps.log, dry_run=dry_run, decided_at=now, ttl=ttl)
        _finish(pendings, deps.guard, outcome, pool)
    count(ERRORS, len(outcome.failures))
    return outcome


def _finish(pendings: list[Pending], guard: Guard, outcome: BatchOutcome, pool: Executor) -> None:
    """Complete the claims of decided requests, release the others; report what failed."""
    for pending in pendings:
        if pending.error is None and pending.result is None:
            pending.error = RecordFailed("the request reached no decision")

    def close(pending: Pending) -> None:
        # The decision stands either way: a claim left open only delays a duplicate until it
        # expires, and that duplicate then finds the connection no longer pending.
        try:
            if pending.error is not None:
                guard.release(pending.key, pending.error)
            elif pending.result is not None:
                guard.complete(pending.key, pending.result)
        except AwsError as err:
            logger.warning(
                "idempotency record not closed", extra={**pending.log_keys(), "error": str(err)}
            )

    list(pool.map(close, pendings))
    for pending in pendings:
        if pending.error is not None:
            for message_id in pending.message_ids:
                outcome.failures[message_id] = pending.error
        elif pending.result is not None:
            if not pending.delivered:
                for message_id in pending.message_ids:
                    outcome.failures[message_id] = RecordFailed("outputs not yet delivered")
            outcome.decided.append(pending)


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


def _claim(
    requests: Iterable[tuple[str, RequestedDetail]],
    policy: PolicySet,
    deps: DecideDeps,
    outcome: BatchOutcome,
    pool: Executor,
    *,
    dry_run: bool,
) -> list[Pending]:
    """One claimed request per endpoint. Identical requests share one claim; the other requests
    for an endpoint that has a claimed one follow it (its fate is theirs; no decision of their
    own). Requests are claimed in rounds: the first of every endpoint, then, for endpoints whose
    first was a duplicate, their next one."""
    by_key: dict[tuple[tuple[str, str], ...], list[str]] = {}
    firsts: dict[tuple[tuple[str, str], ...], RequestedDetail] = {}
    for message_id, request in requests:
        name = tuple(sorted(idempotency_key(request, policy.version_hash, dry_run=dry_run).items()))
        by_key.setdefault(name, []).append(message_id)
        firsts.setdefault(name, request)
    queues: dict[str, list[tuple[tuple[str, str], ...]]] = {}
    for name, request in firsts.items():
        queues.setdefault(request.endpoint_id, []).append(name)
    leaders: dict[str, Pending] = {}
    while queues:
        names = [waiting.pop(0) for waiting in queues.values()]

        def attempt(name: tuple[tuple[str, str], ...]) -> Claim | AwsError:
            try:
                return deps.guard.claim(dict(name), deps.remaining_ms())
            except AwsError as err:
                return err

        for name, claim in zip(names, pool.map(attempt, names), strict=True):
            request, message_ids = firsts[name], by_key[name]
            if isinstance(claim, AwsError):
                for message_id in message_ids:
                    outcome.failures[message_id] = claim
                continue
            if _settle_claim(claim, dict(name), message_ids, deps, outcome):
                leaders[request.endpoint_id] = Pending(dict(name), list(message_ids), request)
        for endpoint_id in list(queues):
            leader = leaders.get(endpoint_id)
            if leader is not None:
                for name in queues[endpoint_id]:
                    leader.message_ids.extend(by_key[name])
            if leader is not None or not queues[endpoint_id]:
                del queues[endpoint_id]
    return list(leaders.values())


def _settle_claim(
    claim: Claim,
    key: dict[str, str],
    message_ids: list[str],
    deps: DecideDeps,
    outcome: BatchOutcome,
) -> bool:
    """True for a new claim; a duplicate's missing outputs are delivered here."""
    if claim.status == "new":
        return True
    if claim.status == "done" and redeliver(claim.result, deps.bus, deps.log, deps.guard, key):
        outcome.duplicates.extend(message_ids)
        return False
    reason = (
        "the same request is being decided by another invocation"
        if claim.status == "busy"
        else "outputs not yet delivered"
    )
    for message_id in message_ids:
        outcome.failures[message_id] = RecordFailed(reason)
    return False


def _reread(pendings: list[Pending], ec2: ProviderEc2) -> None:
    by_service: dict[str, list[Pending]] = {}
    for pending in pendings:
        by_service.setdefault(pending.request.service_id, []).append(pending)
    for service_id, group in by_service.items():
        try:
            found = ec2.connections(service_id, [p.request.endpoint_id for p in group])
        except AwsError as err:
            _fail(group, err)
            continue
        for pending in group:
            pending.connection = found.get(pending.request.endpoint_id)


def _screen(pendings: list[Pending], policy: PolicySet, managed: frozenset[str]) -> None:
    for pending in pendings:
        if pending.ok:
            pending.verdict = screen(pending.request, pending.connection, policy, managed)


def _gather(
    pendings: list[Pending],
    consumers: ConsumerReader,
    organizations: OrganizationsReader,
    pool: Executor,
) -> None:
    by_account: dict[tuple[str, str], list[Pending]] = {}
    for pending in pendings:
        if pending.ok and pending.verdict is None and pending.connection is not None:
            where = (pending.connection.account, pending.connection.region)
            by_account.setdefault(where, []).append(pending)

    def lookup(
        where: tuple[str, str],
    ) -> tuple[dict[str, ConsumerFacts], OrgFacts] | AwsError:
        account, region = where
        group = by_account[where]
        try:
            consumer = consumers.facts(account, region, [p.request.endpoint_id for p in group])
            return consumer, organizations.ou_path(account)
        except AwsError as err:
            return err

    for where, found in zip(by_account, pool.map(lookup, by_account), strict=True):
        group = by_account[where]
        if isinstance(found, AwsError):
            _fail(group, found)
            continue
        consumer, org = found
        for pending in group:
            if pending.connection is not None:
                pending.gathered = facts_for(
                    pending.connection, consumer[pending.request.endpoint_id], org
                )


def _judge(
    pendings: list[Pending],
    policy: PolicySet,
    log: DecisionLog | None,
    now: datetime,
    approvals: ApprovalStore | None = None,
) -> None:
    for pending in pendings:
        if not pending.ok or pending.verdict is not None:
            continue
        if pending.gathered is None or pending.connection is None:
            _fail([pending], RecordFailed("no facts were gathered for this request"))
            continue
        evaluation = evaluate(policy, pending.gathered.facts)
        pending.evaluation = evaluation
        notice = None
        if pending.request.origin == "revocation" and evaluation.decision == "reject":
            try:
                notice = log.notice(pending.request.endpoint_id) if log is not None else None
            except AwsError as err:
                _fail([pending], err)
                continue
        verdict = judge(pending.request, pending.connection, evaluation, policy, now, notice)
        if pending.request.origin == "approval":
            try:
                record = approvals.get(pending.request.endpoint_id) if approvals else None
            except (AwsError, ValueError, KeyError) as err:
                _fail([pending], err)
                continue
            verdict = with_approval(verdict, evaluation, record, pending.connection, now)
        pending.verdict = verdict


def _fail(group: Iterable[Pending], error: Exception) -> None:
    for pending in group:
        pending.error = error
        logger.warning(
            "request not decided, the queue retries it",
            extra={**pending.log_keys(), "error": str(error)},
        )
