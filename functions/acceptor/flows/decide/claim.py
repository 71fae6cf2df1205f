"""Decide's claim stage: one idempotency claim per endpoint (docs/architecture.md, "Decide")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from acceptor.aws.errors import AwsError
from acceptor.aws.idempotency import Claim, Guard
from acceptor.contract import RequestedDetail
from acceptor.flows.decide.deliver import redeliver
from acceptor.flows.decide.ports import Delivery, Log
from acceptor.flows.decide.results import Claimed, RecordFailed

Name = tuple[tuple[str, str], ...]


@dataclass
class Claims:
    claimed: list[Claimed] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    """SQS message IDs of requests already decided (their missing outputs now delivered)."""
    failures: dict[str, Exception] = field(default_factory=dict)
    """SQS message ID -> why it was not claimed."""


# A notification and a sweep ask the same question of a pending connection: they share one
# claim, so a Connect followed by a sweep decides (and tells people) once (docs/notifications.md,
# "Once per change"). A hold expiry and a revocation check ask other questions.
CLAIM_ORIGIN: dict[str, str] = {"notification": "request", "sweep": "request"}


def idempotency_key(request: RequestedDetail, policy_hash: str, *, dry_run: bool) -> dict[str, str]:
    """Endpoint, state, policy version, origin and mode; a revocation check also names its
    sweep, since each sweep is one step of the two-step revocation. The mode is part of it so
    that switching DryRun off decides again at once (a dry run acted on nothing)."""
    key = {
        "endpoint_id": request.endpoint_id,
        "state": request.state,
        "policy_hash": policy_hash,
        "origin": CLAIM_ORIGIN.get(request.origin, request.origin),
        "dry_run": "true" if dry_run else "false",
    }
    if request.origin == "revocation":
        key["sweep"] = request.correlation_id
    if request.origin == "approval":
        # Each approval record is decided once (its ID is the request's correlation ID).
        key["approval"] = request.correlation_id
    return key


def claim(
    requests: Iterable[tuple[str, RequestedDetail]],
    policy_hash: str,
    guard: Guard,
    bus: Delivery,
    log: Log | None,
    pool: Executor,
    remaining_ms: Callable[[], int | None],
    *,
    dry_run: bool,
) -> Claims:
    """One claimed request per endpoint. Identical requests share one claim; the other requests
    for an endpoint that has a claimed one follow it (its fate is theirs; no decision of their
    own). Requests are claimed in rounds: the first of every endpoint, then, for endpoints whose
    first was a duplicate, their next one."""
    claims = Claims()
    by_key: dict[Name, list[str]] = {}
    firsts: dict[Name, RequestedDetail] = {}
    for message_id, request in requests:
        name = tuple(sorted(idempotency_key(request, policy_hash, dry_run=dry_run).items()))
        by_key.setdefault(name, []).append(message_id)
        firsts.setdefault(name, request)
    queues: dict[str, list[Name]] = {}
    for name, request in firsts.items():
        queues.setdefault(request.endpoint_id, []).append(name)
    leaders: dict[str, Claimed] = {}
    while queues:
        names = [waiting.pop(0) for waiting in queues.values()]

        def attempt(name: Name) -> Claim | AwsError:
            try:
                return guard.claim(dict(name), remaining_ms())
            except AwsError as err:
                return err

        for name, got in zip(names, pool.map(attempt, names), strict=True):
            request, message_ids = firsts[name], by_key[name]
            if isinstance(got, AwsError):
                for message_id in message_ids:
                    claims.failures[message_id] = got
                continue
            if _settle(got, dict(name), message_ids, guard, bus, log, claims):
                leaders[request.endpoint_id] = Claimed(dict(name), list(message_ids), request)
        for endpoint_id in list(queues):
            leader = leaders.get(endpoint_id)
            if leader is not None:
                for name in queues[endpoint_id]:
                    leader.message_ids.extend(by_key[name])
            if leader is not None or not queues[endpoint_id]:
                del queues[endpoint_id]
    claims.claimed = list(leaders.values())
    return claims


def _settle(
    got: Claim,
    key: dict[str, str],
    message_ids: list[str],
    guard: Guard,
    bus: Delivery,
    log: Log | None,
    claims: Claims,
) -> bool:
    """True for a new claim; a duplicate's missing outputs are delivered here."""
    if got.status == "new":
        return True
    if got.status == "done" and redeliver(got.result, bus, log, guard, key):
        claims.duplicates.extend(message_ids)
        return False
    reason = got.why_busy() if got.status == "busy" else "outputs not yet delivered"
    for message_id in message_ids:
        claims.failures[message_id] = RecordFailed(reason)
    return False
