"""Removing exactly the rules the acceptor created for a connection that ended.

Only recorded rule IDs (and rules carrying the record's claim tag) are revoked: a rule someone
else added, however identical, stays, and is reported when it is marked for the endpoint.
"""

from __future__ import annotations

from acceptor.security_groups.intents import complete_open
from acceptor.security_groups.model import (
    GroupNotFound,
    GroupOutcome,
    GroupRecord,
    Intent,
    Report,
    RevokeResult,
    SecurityGroupError,
)
from acceptor.security_groups.plan import plan_removal
from acceptor.security_groups.ports import Adapters, GroupApi, Request
from acceptor.security_groups.verify import is_gone
from acceptor.security_groups.work import Work, failed, note_open


def remove_rules(request: Request, adapters: Adapters) -> Report:
    """Revoke exactly the rules we created for this endpoint; leave everything else."""
    work = Work(request, adapters)
    if not request.dry_run:
        # An earlier try's change is completed first: rules it created are recorded (and so
        # removed below), rules it revoked are forgotten (docs/security-groups.md, "Intents").
        work.completions = complete_open(adapters, request.endpoint_id)
        note_open(work)
    records = adapters.records.load(request.endpoint_id)
    for record in records:
        work.groups.append(_remove_from_group(work, record))
    left = {r.group_id for r in records}
    for group_id, completed in sorted(work.completions.done.items()):
        if group_id not in left and completed.forgotten:
            # The earlier try revoked them and stopped before it could say so.
            work.groups.append(
                GroupOutcome(
                    side=completed.intent.record.side,
                    group_id=group_id,
                    owner_account=completed.intent.record.owner_account,
                    status="removed",
                    removed=completed.forgotten,
                )
            )
    return work.report("remove")


def _remove_from_group(work: Work, record: GroupRecord) -> GroupOutcome:
    side, group_id = record.side, record.group_id
    try:
        api: GroupApi
        if side == "provider":
            api = work.adapters.provider
        else:
            api = work.adapters.consumer(record.owner_account, record.region)
        try:
            existing = api.ingress_rules(group_id)
        except GroupNotFound:
            existing = ()
        plan = plan_removal(record, existing)
        for rule_id in plan.lookalikes:
            work.note(
                "lookalike-left",
                f"{rule_id} is marked for {record.endpoint_id} but was not created by the "
                "acceptor; left in place",
                group_id=group_id,
                side=side,
            )
        revoke, kept = _unheld(work, record, plan.revoke)
        for rule_id in kept:
            work.note(
                "rule-still-held",
                f"{rule_id} also serves {', '.join(sorted(kept[rule_id]))}, still connected; "
                f"left in place, no longer held for {record.endpoint_id}",
                group_id=group_id,
                side=side,
            )
        if work.request.dry_run:
            return GroupOutcome(
                side=side,
                group_id=group_id,
                owner_account=record.owner_account,
                status="planned",
                removed=revoke,
                kept=tuple(sorted(kept)),
            )
        intent = None
        if revoke:
            # Written before the call, ended once the records say what it did: a response lost
            # after AWS revoked is completed from a re-read (docs/security-groups.md, "Intents").
            intent = work.adapters.records.begin(Intent("remove", record, rule_ids=revoke))
        result = api.revoke(group_id, revoke) if revoke else RevokeResult(revoked=())
        for rule_id in kept:
            work.adapters.records.release(group_id, rule_id, record.endpoint_id)
        for rule_id in (*result.revoked, *result.already_gone, *plan.already_gone):
            work.adapters.records.drop_rule(group_id, rule_id)
    except SecurityGroupError as err:
        work.note(
            "record-kept",
            f"the rules of {record.endpoint_id} in {group_id} stay recorded for the next try",
            group_id=group_id,
            side=side,
        )
        return failed(work, err, side, group_id, record.owner_account)
    work.adapters.records.forget(
        record, {*record.rule_ids, *result.revoked, *result.already_gone, *plan.already_gone}
    )
    if intent is not None:
        work.adapters.records.end(intent)
    removed = tuple(
        sorted({*result.revoked, *result.already_gone, *work.completions.forgotten(group_id)})
    )
    return GroupOutcome(
        side=side,
        group_id=group_id,
        owner_account=record.owner_account,
        status="removed" if removed else "unchanged",
        removed=removed,
        kept=tuple(sorted(kept)),
    )


def _unheld(
    work: Work, record: GroupRecord, rule_ids: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, frozenset[str]]]:
    """Split our rules into those to revoke and those other live connections still hold.

    Each other holder is re-read: one that is gone (rejected, deleted, expired, failed, or not
    listed) holds nothing. A holder whose state cannot be read makes the call fail (retried),
    never a guess either way."""
    revoke: list[str] = []
    kept: dict[str, frozenset[str]] = {}
    alive: dict[str, bool] = {}
    for rule_id in rule_ids:
        others = work.adapters.records.holders(record.group_id, rule_id) - {record.endpoint_id}
        for other in others - alive.keys():
            alive[other] = not is_gone(work.adapters.provider.connection(other))
        living = frozenset(o for o in others if alive[o])
        if living:
            kept[rule_id] = living
        else:
            revoke.append(rule_id)
    return tuple(revoke), kept
