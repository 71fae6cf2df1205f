"""The daily digest of held requests (docs/notifications.md, "The daily digest").

A held connection is announced once, when it is first held; after that it is told again only
here, once a day, with its age and when its hold turns into a reject. The digest is built from
re-read truth (`decision/standing.py`: the connections EC2 shows as `pendingAcceptance`, each
with its last decision record): a connection held by its last decision is listed, and so is a
pending one with no decision on record ("not decided yet": never silently dropped). Each listed
connection goes to the channels its hold told (the record's `notify`, as Notify picks them for
a Decided event), an undecided one to the file-level channels of the files governing its
service; each channel gets one message listing its connections, at most `MAX_LISTED` of them.
Pure: the standings, the policy, the day and the clock are given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from acceptor.decision.standing import Standing
from acceptor.notify import channels
from acceptor.notify.channels import Target
from acceptor.notify.message import Item, Message, account_label, console_url, subject
from acceptor.policy.policy_set import PolicySet

# One message stays readable, and within Slack's 50 blocks and SNS's 256 KB, whatever the
# number of held requests; the rest is counted (`acceptor connections --state held`).
MAX_LISTED = 50
REASON_MAX = 300
DETAIL_TYPE = "Held Requests Digest"
UNDECIDED = "not decided yet: no decision on record (the next sweep decides it)"


@dataclass(frozen=True)
class Digest:
    """One channel's digest."""

    target: Target
    message: Message
    listed: tuple[str, ...]
    """The endpoint IDs the message lists (at most MAX_LISTED)."""
    omitted: int


def waiting(found: Sequence[Standing]) -> list[Standing]:
    """The requests a digest lists: held by their last decision, or not decided at all."""
    return [s for s in found if s.held or s.undecided]


def targets_of(standing: Standing, policy: PolicySet) -> tuple[Target, ...]:
    if standing.last is not None:
        return channels.for_decision(standing.last.notify, policy)
    return channels.for_service(standing.connection.service_id, policy)


def plan_digests(
    found: Sequence[Standing],
    policy: PolicySet,
    *,
    day: date,
    now: datetime,
    provider_region: str | None,
    account_name: Callable[[str], str | None],
) -> tuple[Digest, ...]:
    """One digest per channel that hears of at least one waiting request; none when nothing
    waits."""
    by_channel: dict[str, tuple[Target, list[Standing]]] = {}
    for standing in waiting(found):
        for target in targets_of(standing, policy):
            by_channel.setdefault(target.name, (target, []))[1].append(standing)
    return tuple(
        _digest(target, listed, day=day, now=now, region=provider_region, names=account_name)
        for target, listed in by_channel.values()
    )


def _digest(
    target: Target,
    found: list[Standing],
    *,
    day: date,
    now: datetime,
    region: str | None,
    names: Callable[[str], str | None],
) -> Digest:
    shown, omitted = found[:MAX_LISTED], max(0, len(found) - MAX_LISTED)
    held = sum(1 for s in found if s.held)
    undecided = len(found) - held
    counts = [f"{held} held by the policy"] if held else []
    counts += [f"{undecided} not decided yet"] if undecided else []
    oldest = max(s.age(now) for s in found)
    summary = (
        f"{len(found)} connection request(s) wait for a decision: {' and '.join(counts)}. "
        f"The oldest has waited {span(oldest)}."
    )
    expiring = [s.expires_at for s in found if s.held and s.expires_at is not None]
    if expiring:
        summary += f" The next hold turns into a reject at {_when(min(expiring), now)}."
    summary += " Approve or reject with `acceptor approve|reject ENDPOINT --reason …`."
    items = [Item(s.connection.endpoint_id, line(s, now, names)) for s in shown]
    if omitted:
        items.append(
            Item("And more", f"and {omitted} more (`acceptor connections --state pending`)")
        )
    services = {s.connection.service_id for s in found}
    title = f"Held requests on {day.isoformat()}: {len(found)} waiting for a decision"
    return Digest(
        target=target,
        message=Message(
            kind="digest",
            dedup_key=f"digest:{day.isoformat()}",
            title=title,
            short_title=subject(title),
            summary=summary,
            severity="warning",
            items=tuple(items),
            actions=(),
            dry_run=False,
            console_url=console_url(region, next(iter(services)) if len(services) == 1 else None),
            detail_type=DETAIL_TYPE,
            detail=_detail(day, shown, omitted, now),
            log_keys={"digest_date": day.isoformat()},
        ),
        listed=tuple(s.connection.endpoint_id for s in shown),
        omitted=omitted,
    )


def line(standing: Standing, now: datetime, names: Callable[[str], str | None]) -> str:
    """One request: who asks for what, how long it has waited, until when, and why."""
    connection, last = standing.connection, standing.last
    account = account_label(connection.account, names(connection.account))
    parts = [
        f"{account} to {connection.service_id}",
        f"waiting {span(standing.age(now))} (since {_stamp(connection.created_at)})",
    ]
    if last is None:
        return "; ".join([*parts, UNDECIDED])
    parts.append(
        "hold expires "
        + (_when(standing.expires_at, now) if standing.expires_at is not None else "never")
    )
    parts.append(f"rule {last.rule}" if last.rule else "the policy's default")
    if last.dry_run:
        parts.append("held in a dry run")
    if last.reason:
        parts.append(_cut(last.reason.strip().rstrip("."), REASON_MAX))
    if last.missing_facts:
        missing = ", ".join(
            f"{fact} ({last.unknown_reasons[fact]})" if fact in last.unknown_reasons else fact
            for fact in last.missing_facts
        )
        parts.append(f"missing: {_cut(missing, REASON_MAX)}")
    return "; ".join(parts)


def span(value: timedelta) -> str:
    """A duration as people read it: `3 d 4 h`, `5 h 12 min`, `7 min`."""
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _when(at: datetime, now: datetime) -> str:
    if at <= now:
        return f"{_stamp(at)} (passed: the next sweep rejects it)"
    return f"{_stamp(at)} (in {span(at - now)})"


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _detail(day: date, shown: Sequence[Standing], omitted: int, now: datetime) -> dict[str, Any]:
    """What a generic webhook receives as `detail`: the listed requests as data."""
    return {
        "date": day.isoformat(),
        "omitted": omitted,
        "requests": [
            {
                "service_id": s.connection.service_id,
                "endpoint_id": s.connection.endpoint_id,
                "account": s.connection.account,
                "created_at": s.connection.created_at.astimezone(UTC).isoformat(),
                "age_hours": round(s.age(now).total_seconds() / 3600, 1),
                "decision": None if s.last is None else s.last.decision,
                "rule": None if s.last is None else s.last.rule,
                "reason": None if s.last is None else s.last.reason,
                "missing_facts": [] if s.last is None else list(s.last.missing_facts),
                "decided_at": None if s.last is None else s.last.decided_at,
                "hold_expires_at": None
                if not s.held or s.expires_at is None
                else s.expires_at.astimezone(UTC).isoformat(),
            }
            for s in shown
        ],
    }
