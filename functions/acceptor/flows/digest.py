"""NotifyFunction's digest flow: once a day, tell people which requests still wait for them.

Invoked by the stack's `HeldDigestSchedule` (a Scheduled Event; docs/operations.md). The day is
the UTC date of the event's time; the first event of a day claims it in the idempotency table
(`aws/told.py`, `claim_digest`), so another invocation the same day sends nothing, while the
event's own retries pass and post only the channels that had not succeeded (the per-channel
records of `flows/notify.py`). The content is re-read, never taken from the event: the managed
services' `pendingAcceptance` connections (EC2), each joined with its last decision record
(the decision log's `by-service` index), and the policy's channels (`notify/digest.py`).
Nothing waiting: nothing sent (docs/notifications.md, "The daily digest").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.ec2 import ProviderEc2
from acceptor.decision.connection import PENDING
from acceptor.decision.standing import Standing, oldest, standings
from acceptor.flows.notify import (
    FAILURES,
    NOT_NOTIFIED,
    SENT,
    NotifyDeps,
    NotifySettings,
    account_lookup,
    send_once_through,
)
from acceptor.flows.telemetry import count, level, logger
from acceptor.notify.digest import plan_digests, waiting
from acceptor.notify.dispatch import Outcome, Report, deliver_all
from acceptor.notify.errors import DeliveryFailed

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

HELD_LISTED = "HeldRequestsListed"


class DigestNotConfigured(RuntimeError):
    """Without the decision table or the told log the digest cannot tell held from decided, or
    once a day from twice: it refuses to run."""


@dataclass(frozen=True)
class DigestReads:
    """What the digest re-reads: the connections, the decision log, the managed set."""

    ec2: ProviderEc2
    log: DecisionLog
    managed: Callable[[], frozenset[str]]
    clock: Callable[[], datetime]


def held_digest(
    event: Mapping[str, Any],
    context: LambdaContext,
    settings: NotifySettings,
    deps: NotifyDeps,
    reads: DigestReads,
) -> dict[str, Any]:
    schedule = EventBridgeModel.model_validate(event)
    day = schedule.time.astimezone(UTC).date()
    logger.append_keys(detail_type=schedule.detail_type, event_id=schedule.id)
    logger.append_keys(digest_date=day.isoformat())
    if deps.told is None:
        raise DigestNotConfigured("IDEMPOTENCY_TABLE is not set: the digest could repeat")
    now = reads.clock()
    if not deps.told.claim_digest(day, schedule.id, now):
        count(NOT_NOTIFIED)
        logger.info("The digest of this day was already sent by another event")
        return {"status": "already-digested", "date": day.isoformat()}
    found = pending_standings(reads, settings)
    digests = plan_digests(
        found,
        settings.policy(),
        day=day,
        now=now,
        provider_region=schedule.region,
        account_name=account_lookup(deps.account_names),
    )
    listed = waiting(found)
    level(HELD_LISTED, len(listed))
    if not digests:
        count(NOT_NOTIFIED)
        logger.info("Nothing waits for a decision: no digest", extra={"pending": len(found)})
        return {"status": "nothing-held", "date": day.isoformat()}
    deps.idempotency.register_lambda_context(context)
    send_once = send_once_through(deps)
    outcomes: list[Outcome] = []
    failures: list[tuple[str, str]] = []
    for digest in digests:
        try:
            report = deliver_all(digest.message, (digest.target,), send_once)
        except DeliveryFailed as err:
            failures.extend(err.failures)
            outcomes.extend(Outcome(channel, "failed", error) for channel, error in err.failures)
            outcomes.extend(Outcome(channel, "sent") for channel in err.sent)
            continue
        outcomes.extend(report.outcomes)
    report = Report(tuple(outcomes))
    sent, repeated = report.by_status("sent"), report.by_status("already-sent")
    if failures:
        count(FAILURES, len(failures))
        logger.error(
            "The digest failed on some channels; the event will be retried",
            extra={"failed": dict(failures), "sent": list(sent + repeated)},
        )
        raise DeliveryFailed(tuple(failures), sent=sent + repeated)
    level(SENT, len(sent))
    logger.info(
        "Digest of held requests sent",
        extra={"listed": len(listed), "sent": list(sent), "already_sent": list(repeated)},
    )
    return {
        "status": "delivered",
        "date": day.isoformat(),
        "listed": [s.connection.endpoint_id for s in listed],
        "sent": list(sent),
        "already_sent": list(repeated),
    }


def pending_standings(reads: DigestReads, settings: NotifySettings) -> list[Standing]:
    """Every `pendingAcceptance` connection of the managed services, with its last decision."""
    policy = settings.policy()
    found: list[Standing] = []
    for service_id in sorted(reads.managed()):
        pending = list(reads.ec2.list_connections(service_id, PENDING))
        if not pending:
            continue
        records = reads.log.latest_by_service(
            service_id, {c.endpoint_id for c in pending}, since=oldest(pending)
        )
        found.extend(standings(pending, records, policy))
    return sorted(found, key=lambda s: s.connection.created_at)
