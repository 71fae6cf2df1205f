"""What to add to, or remove from, one group, given the rules it has now. Pure.

Ownership: a rule is ours when its ID is in our record, or when it carries our record's claim
tag (created just before a crash, not yet recorded). Nothing else is ours, however identical it
looks: an identical rule someone else added is `present` when adding and left alone when
removing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from acceptor.security_groups.marking import CLAIM_TAG, looks_like_ours
from acceptor.security_groups.model import ExistingRule, GroupRecord, Permission


def is_ours(rule: ExistingRule, record: GroupRecord | None) -> bool:
    if record is None:
        return False
    return rule.rule_id in record.rule_ids or rule.tags.get(CLAIM_TAG) == record.claim


@dataclass(frozen=True)
class GroupAdditions:
    to_add: tuple[Permission, ...]
    ours: dict[Permission, str]
    """Already granted by a rule of ours: permission -> rule ID (recorded, or to be recorded)."""
    others: dict[Permission, str]
    """Already granted by a rule we did not create: never recorded, so never removed."""


def plan_additions(
    needed: Iterable[Permission], existing: Iterable[ExistingRule], record: GroupRecord | None
) -> GroupAdditions:
    rules = tuple(existing)
    to_add: list[Permission] = []
    ours: dict[Permission, str] = {}
    others: dict[Permission, str] = {}
    for permission in needed:
        granting = [rule for rule in rules if rule.grants(permission)]
        if not granting:
            to_add.append(permission)
            continue
        mine = [rule for rule in granting if is_ours(rule, record)]
        if mine:
            ours[permission] = mine[0].rule_id
        else:
            others[permission] = granting[0].rule_id
    return GroupAdditions(to_add=tuple(to_add), ours=ours, others=others)


@dataclass(frozen=True)
class GroupRemoval:
    revoke: tuple[str, ...]
    already_gone: tuple[str, ...]
    """Recorded rule IDs no longer in the group: removed by someone, nothing to do."""
    lookalikes: tuple[str, ...]
    """Rules marked for this endpoint that we did not create: left, and reported."""


def plan_removal(record: GroupRecord, existing: Iterable[ExistingRule]) -> GroupRemoval:
    rules = [rule for rule in existing if rule.group_id == record.group_id and not rule.egress]
    present = {rule.rule_id for rule in rules}
    revoke = sorted(rule.rule_id for rule in rules if is_ours(rule, record))
    lookalikes = sorted(
        rule.rule_id
        for rule in rules
        if not is_ours(rule, record)
        and looks_like_ours(rule.description, rule.tags, record.endpoint_id)
    )
    return GroupRemoval(
        revoke=tuple(revoke),
        already_gone=tuple(sorted(record.rule_ids - present)),
        lookalikes=tuple(lookalikes),
    )
