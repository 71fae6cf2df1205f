"""Intents of security-group changes (docs/security-groups.md, "Intents"; docs/architecture.md,
"Intents"): written before a group is changed, completed once the change is recorded.

Before rules are authorized in a group, the rule table gets an intent naming the endpoint, the
group, its record's claim and the permissions planned; before rules are revoked, one naming the
rule IDs planned. After the change and its record, the intent is ended. An intent still open
means the change may have been applied and not recorded: the response was lost (a 5xx after
AWS made the change, which botocore's retry then meets as a duplicate) or the function stopped
between the call and the record. Whoever finds it next, the retry or the next event for the
endpoint, completes it from a re-read of the group, never from the intent alone:

- an add: every ingress rule of the group that carries the intent's claim tag is ours (the tag
  was written by our own call), so it is held and recorded; nothing is authorized here;
- a remove: every planned rule ID the group no longer has is dropped from the records; a rule
  still there stays recorded, for the removal (which re-checks its holders) to revoke.

So completing an intent only records what exists or forgets what is gone: it never opens
anything, and a rule created by a lost call is never orphaned. Pure: no boto3, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from acceptor.security_groups.marking import CLAIM_TAG
from acceptor.security_groups.model import (
    AddedRule,
    ExistingRule,
    GroupNotFound,
    GroupRecord,
    Intent,
    Permission,
    SecurityGroupError,
)
from acceptor.security_groups.ports import Adapters, GroupApi


@dataclass(frozen=True)
class Completed:
    """What completing one intent found: rules of ours now recorded, or rules gone now forgotten."""

    intent: Intent
    adopted: tuple[AddedRule, ...] = ()
    forgotten: tuple[str, ...] = ()


@dataclass
class Completions:
    """The intents completed in one run, by group; those that could not be (left open)."""

    done: dict[str, Completed] = field(default_factory=dict)
    failed: dict[str, SecurityGroupError] = field(default_factory=dict)

    def adopted(self, group_id: str) -> tuple[AddedRule, ...]:
        found = self.done.get(group_id)
        return () if found is None else found.adopted

    def forgotten(self, group_id: str) -> tuple[str, ...]:
        found = self.done.get(group_id)
        return () if found is None else found.forgotten


def ours_by_claim(record: GroupRecord, existing: Iterable[ExistingRule]) -> dict[Permission, str]:
    """Ingress rules of the record's group that carry its claim tag: created by our own call."""
    found: dict[Permission, str] = {}
    for rule in existing:
        if (
            rule.group_id == record.group_id
            and not rule.egress
            and rule.tags.get(CLAIM_TAG) == record.claim
            and rule.from_port is not None
            and rule.from_port == rule.to_port
            and rule.cidr is not None
        ):
            found[Permission(rule.from_port, rule.cidr)] = rule.rule_id
    return found


def gone(intent: Intent, existing: Iterable[ExistingRule]) -> tuple[str, ...]:
    """The planned rule IDs the group no longer has."""
    present = {rule.rule_id for rule in existing}
    return tuple(sorted(set(intent.rule_ids) - present))


def complete(intent: Intent, api: GroupApi, adapters: Adapters) -> Completed:
    """Complete `intent` from a re-read of its group, then end it. A domain error (the group
    cannot be read) propagates, and the intent stays open for the next try."""
    try:
        existing = api.ingress_rules(intent.group_id)
    except GroupNotFound:
        existing = ()
    records = adapters.records
    if intent.operation == "add":
        adopted = ours_by_claim(intent.record, existing)
        if adopted:
            records.record_created(intent.record, adopted.values())
        records.end(intent)
        return Completed(
            intent, adopted=tuple(AddedRule(p, rid) for p, rid in sorted(adopted.items()))
        )
    forgotten = gone(intent, existing)
    for rule_id in forgotten:
        records.drop_rule(intent.group_id, rule_id)
    if forgotten:
        records.forget(intent.record, forgotten)
    records.end(intent)
    return Completed(intent, forgotten=forgotten)


def complete_open(adapters: Adapters, endpoint_id: str) -> Completions:
    """Complete every intent the endpoint left open (docs/security-groups.md, "Intents")."""
    completions = Completions()
    for intent in adapters.records.intents(endpoint_id):
        try:
            api = group_api(adapters, intent.record)
            completions.done[intent.group_id] = complete(intent, api, adapters)
        except SecurityGroupError as err:
            completions.failed[intent.group_id] = err
    return completions


def group_api(adapters: Adapters, record: GroupRecord) -> GroupApi:
    if record.side == "provider":
        return adapters.provider
    return adapters.consumer(record.owner_account, record.region)
