"""Removing exactly the rules the acceptor created for a connection that ended.

Only recorded rule IDs (and rules carrying the record's claim tag) are revoked: a rule someone
else added, however identical, stays, and is reported when it is marked for the endpoint.
"""

from __future__ import annotations

from acceptor.security_groups.model import (
    GroupNotFound,
    GroupOutcome,
    GroupRecord,
    Report,
    RevokeResult,
    SecurityGroupError,
)
from acceptor.security_groups.plan import plan_removal
from acceptor.security_groups.ports import Adapters, GroupApi, Request
from acceptor.security_groups.work import Work, failed


def remove_rules(request: Request, adapters: Adapters) -> Report:
    """Revoke exactly the rules we created for this endpoint; leave everything else."""
    work = Work(request, adapters)
    for record in adapters.records.load(request.endpoint_id):
        work.groups.append(_remove_from_group(work, record))
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
        if work.request.dry_run:
            return GroupOutcome(
                side=side,
                group_id=group_id,
                owner_account=record.owner_account,
                status="planned",
                removed=plan.revoke,
            )
        result = api.revoke(group_id, plan.revoke) if plan.revoke else RevokeResult(revoked=())
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
    removed = tuple(sorted({*result.revoked, *result.already_gone}))
    return GroupOutcome(
        side=side,
        group_id=group_id,
        owner_account=record.owner_account,
        status="removed" if removed else "unchanged",
        removed=removed,
    )
