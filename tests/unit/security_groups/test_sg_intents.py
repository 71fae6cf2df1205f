"""Intents of security-group changes (docs/security-groups.md, "Intents"): written before a
group is changed, ended once the change is recorded, and completed from a re-read by whoever
finds one open; completing one records what exists or forgets what is gone, never opens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from test_sg_add_remove import (
    DEFAULT_VPC,
    ENDPOINT,
    ENDPOINT_GROUP,
    NLB_GROUP,
    OTHERS,
    PROVIDER_ONLY,
    V4,
    VPC,
    by_group,
    codes,
    connect,
    end,
    request,
)

from acceptor.security_groups.add import add_rules
from acceptor.security_groups.intents import gone, ours_by_claim
from acceptor.security_groups.marking import rule_tags
from acceptor.security_groups.model import (
    ConsumerEndpoint,
    ExistingRule,
    GroupRecord,
    Intent,
    Permission,
)

RECORD = GroupRecord(ENDPOINT, NLB_GROUP, "provider", "111122223333", "eu-west-1", "claim-1")


def rule(rule_id: str, *, claim: str | None = None, egress: bool = False) -> ExistingRule:
    tags = {} if claim is None else rule_tags(ENDPOINT, claim)
    return ExistingRule(rule_id, NLB_GROUP, egress, "tcp", 443, 443, V4, tags=tags)


class LostResponse(RuntimeError):
    """AWS made the change, and its answer was lost (a 5xx after applying)."""


def lose_responses(ec2: Any, method: str) -> None:
    """Make `ec2.<method>` apply its change, then raise as a lost response does."""
    original = getattr(ec2, method)

    def applied_then_lost(group_id: str, what: Sequence[Any], **kwargs: Any) -> Any:
        original(group_id, what, **kwargs)
        raise LostResponse(f"{method} applied, response lost")

    setattr(ec2, method, applied_then_lost)


def answer_normally(ec2: Any, method: str) -> None:
    delattr(ec2, method)


# ------------------------------------------------------------------ pure parts


def authorize_applied_and_lost(world: Any) -> None:
    """The provider rule of ENDPOINT authorized, its answer lost: the add raised, the intent is
    open; the API answers normally again."""
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    lose_responses(world.provider, "authorize")
    with pytest.raises(LostResponse):
        add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    answer_normally(world.provider, "authorize")


def test_only_ingress_rules_with_the_records_claim_are_ours_by_claim() -> None:
    existing = [
        rule("sgr-1", claim="claim-1"),
        rule("sgr-2", claim="claim-2"),
        rule("sgr-3"),
        rule("sgr-4", claim="claim-1", egress=True),
    ]

    assert ours_by_claim(RECORD, existing) == {Permission(443, V4): "sgr-1"}


def test_the_planned_rule_ids_a_group_no_longer_has_are_gone() -> None:
    intent = Intent("remove", RECORD, rule_ids=("sgr-1", "sgr-2"))

    assert gone(intent, [rule("sgr-2", claim="claim-1")]) == ("sgr-1",)


# ------------------------------------------------------------------ adding


def test_an_add_writes_its_intent_before_the_call_and_ends_it_after(world: Any) -> None:
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)

    add_rules(request(spec=PROVIDER_ONLY), world.adapters())

    (intent,) = world.records.begun
    assert (intent.operation, intent.group_id) == ("add", NLB_GROUP)
    assert intent.permissions == (Permission(443, DEFAULT_VPC),)
    assert intent.record.claim == world.records.items[(ENDPOINT, NLB_GROUP)].claim
    assert world.records.open == {}


def test_an_authorize_whose_response_was_lost_is_recorded_by_the_retry(world: Any) -> None:
    # Given the authorize is applied and its answer lost
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    lose_responses(world.provider, "authorize")
    with pytest.raises(LostResponse):
        add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    (created,) = world.provider.ingress_rules(NLB_GROUP)
    assert world.records.items[(ENDPOINT, NLB_GROUP)].rule_ids == frozenset()
    assert list(world.records.open) == [(ENDPOINT, NLB_GROUP)]

    # When the retry runs with AWS answering
    answer_normally(world.provider, "authorize")
    report = add_rules(request(spec=PROVIDER_ONLY), world.adapters())

    # Then the rule is recorded, held, reported added, and not created twice
    assert world.provider.ingress_rules(NLB_GROUP) == (created,)
    assert world.records.items[(ENDPOINT, NLB_GROUP)].rule_ids == {created.rule_id}
    assert world.records.holders(NLB_GROUP, created.rule_id) == {ENDPOINT}
    group = by_group(report)[NLB_GROUP]
    assert (group.status, [a.rule_id for a in group.added]) == ("added", [created.rule_id])
    assert group.present == ()
    assert world.records.open == {}


def test_a_duplicate_with_our_claim_tag_is_our_own_rule_and_recorded(world: Any) -> None:
    # Given botocore's retry of a lost authorize meets the rule the first attempt created
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    original = world.provider.authorize

    def retried(group_id: str, permissions: Sequence[Permission], **kwargs: Any) -> Any:
        original(group_id, permissions, **kwargs)  # the lost attempt
        return original(group_id, permissions, **kwargs)  # the retry: all duplicates

    world.provider.authorize = retried

    report = add_rules(request(spec=PROVIDER_ONLY), world.adapters())

    (created,) = world.provider.ingress_rules(NLB_GROUP)
    group = by_group(report)[NLB_GROUP]
    assert (group.status, [a.rule_id for a in group.added]) == ("added", [created.rule_id])
    assert world.records.holders(NLB_GROUP, created.rule_id) == {ENDPOINT}


def test_a_duplicate_without_our_claim_tag_stays_someone_elses(world: Any) -> None:
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    original = world.provider.authorize

    def raced(group_id: str, permissions: Sequence[Permission], **kwargs: Any) -> Any:
        # Someone adds the same rule just before our call
        world.provider.add_rule(group_id, permissions[0])
        return original(group_id, permissions, **kwargs)

    world.provider.authorize = raced

    report = add_rules(request(spec=PROVIDER_ONLY), world.adapters())

    (theirs,) = world.provider.ingress_rules(NLB_GROUP)
    assert by_group(report)[NLB_GROUP].status == "unchanged"
    assert world.records.holders(NLB_GROUP, theirs.rule_id) == frozenset()
    assert world.records.items[(ENDPOINT, NLB_GROUP)].rule_ids == frozenset()
    assert world.records.open == {}


def test_a_stranded_add_found_by_the_removal_is_recorded_then_revoked_never_opened(
    world: Any,
) -> None:
    # Given an authorize applied and lost, and then the connection deleted
    authorize_applied_and_lost(world)
    world.provider.writes.clear()

    # When the deletion is handled
    report = end(world, ENDPOINT)

    # Then the stranded rule is revoked, nothing is authorized, nothing is left
    assert world.provider.writes == [("revoke", NLB_GROUP)]
    assert world.provider.ingress_rules(NLB_GROUP) == ()
    assert by_group(report)[NLB_GROUP].status == "removed"
    assert world.records.items == {}
    assert world.records.holding == {}
    assert world.records.open == {}


def test_a_stranded_add_whose_record_a_removal_dropped_is_still_revoked(world: Any) -> None:
    # Given an authorize applied and lost, and its (empty) record dropped meanwhile
    authorize_applied_and_lost(world)
    world.records.items.clear()

    # When the deletion is handled, then the intent alone leads to the rule
    end(world, ENDPOINT)
    assert world.provider.ingress_rules(NLB_GROUP) == ()
    assert world.records.open == {}


def test_a_dry_run_leaves_an_open_intent_alone(world: Any) -> None:
    authorize_applied_and_lost(world)

    add_rules(request(spec=PROVIDER_ONLY, dry_run=True), world.adapters())

    assert list(world.records.open) == [(ENDPOINT, NLB_GROUP)]
    assert world.records.items[(ENDPOINT, NLB_GROUP)].rule_ids == frozenset()


def test_an_intent_that_cannot_be_completed_now_stays_open_and_is_reported(
    world: Any,
) -> None:
    # Given a consumer endpoint group whose authorize was applied and lost
    world.consumer.add_group(ENDPOINT_GROUP, "eni-0endpoint0000001")
    world.consumer.endpoints[ENDPOINT] = ConsumerEndpoint(
        ENDPOINT, VPC, "available", (ENDPOINT_GROUP,), ("eni-0endpoint0000001",)
    )
    world.consumer.vpcs[VPC] = (V4,)
    spec = {"consumer_endpoint": {"ports": [443]}}
    lose_responses(world.consumer, "authorize")
    with pytest.raises(LostResponse):
        add_rules(request(spec=spec), world.adapters())
    answer_normally(world.consumer, "authorize")

    # When the next try cannot use the consumer role
    world.consumer_error = "AccessDenied"
    report = add_rules(request(spec=spec), world.adapters())

    # Then the intent stays open for a later try, and the report says so
    assert "intent-open" in codes(report)
    assert list(world.records.open) == [(ENDPOINT, ENDPOINT_GROUP)]


# ------------------------------------------------------------------ removing


def test_a_revoke_whose_response_was_lost_is_completed_and_reported_by_the_retry(
    world: Any,
) -> None:
    # Given a connection with its rule, deleted, and a revoke applied whose answer is lost
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    (created,) = world.provider.ingress_rules(NLB_GROUP)
    lose_responses(world.provider, "revoke")
    with pytest.raises(LostResponse):
        end(world, ENDPOINT)
    (intent,) = world.records.open.values()
    assert (intent.operation, intent.rule_ids) == ("remove", (created.rule_id,))
    assert world.records.items[(ENDPOINT, NLB_GROUP)].rule_ids == {created.rule_id}

    # When the retry runs
    answer_normally(world.provider, "revoke")
    report = end(world, ENDPOINT)

    # Then the removal is reported, and nothing is recorded, held or open
    group = by_group(report)[NLB_GROUP]
    assert (group.status, group.removed) == ("removed", (created.rule_id,))
    assert world.records.items == {}
    assert world.records.holding == {}
    assert world.records.open == {}


def test_a_removal_that_stopped_after_forgetting_is_reported_by_the_next_try(
    world: Any,
) -> None:
    # Given a revoke applied and its records settled, but the run stopped before its end
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    (created,) = world.provider.ingress_rules(NLB_GROUP)
    record = world.records.items[(ENDPOINT, NLB_GROUP)]
    world.records.begin(Intent("remove", record, rule_ids=(created.rule_id,)))
    world.provider.revoke(NLB_GROUP, [created.rule_id])
    world.records.items.clear()

    report = end(world, ENDPOINT)

    group = by_group(report)[NLB_GROUP]
    assert (group.status, group.removed) == ("removed", (created.rule_id,))
    assert world.records.holding == {}
    assert world.records.open == {}


def test_a_remove_intent_keeps_a_rule_still_there_for_the_removal_to_judge(world: Any) -> None:
    # Given two holders of one rule, and a stale remove intent of the first naming it
    world.provider.add_group(NLB_GROUP)
    for endpoint_id in (ENDPOINT, OTHERS[0]):
        connect(world, endpoint_id)
        add_rules(request(endpoint_id=endpoint_id, spec=PROVIDER_ONLY), world.adapters())
    (shared,) = world.provider.ingress_rules(NLB_GROUP)
    record = world.records.items[(ENDPOINT, NLB_GROUP)]
    world.records.begin(Intent("remove", record, rule_ids=(shared.rule_id,)))

    # When the first is deleted, then the rule stays for the second
    report = end(world, ENDPOINT)

    assert world.provider.ingress_rules(NLB_GROUP) == (shared,)
    assert "rule-still-held" in codes(report)
    assert world.records.holders(NLB_GROUP, shared.rule_id) == {OTHERS[0]}
    assert world.records.open == {}


# ------------------------------------------------------------------ releasing a shared rule


class StoppedAfterRelease(RuntimeError):
    """The function stopped after releasing a rule, before its record forgot it."""


def test_a_stop_between_releasing_a_shared_rule_and_forgetting_it_is_safe(world: Any) -> None:
    # Given two connections holding one rule, and a removal of the first that stops after the
    # release and before the record forgets the rule (the order rule_records.release explains)
    world.provider.add_group(NLB_GROUP)
    for endpoint_id in (ENDPOINT, OTHERS[0]):
        connect(world, endpoint_id)
        add_rules(request(endpoint_id=endpoint_id, spec=PROVIDER_ONLY), world.adapters())
    (shared,) = world.provider.ingress_rules(NLB_GROUP)
    forget = world.records.forget

    def stop(*args: Any) -> None:
        raise StoppedAfterRelease("stopped")

    world.records.forget = stop
    with pytest.raises(StoppedAfterRelease):
        end(world, ENDPOINT)
    assert world.records.holders(NLB_GROUP, shared.rule_id) == {OTHERS[0]}
    assert world.records.items[(ENDPOINT, NLB_GROUP)].rule_ids == {shared.rule_id}

    # When the removal is retried, the rule is kept for the second and the first's record goes
    world.records.forget = forget
    report = end(world, ENDPOINT)
    assert "rule-still-held" in codes(report)
    assert world.provider.ingress_rules(NLB_GROUP) == (shared,)
    assert (ENDPOINT, NLB_GROUP) not in world.records.items

    # And the second's end revokes it
    end(world, OTHERS[0])
    assert world.provider.ingress_rules(NLB_GROUP) == ()
    assert world.records.holding == {}


def test_a_removal_that_stopped_after_releasing_never_keeps_the_rule_for_itself(
    world: Any,
) -> None:
    # Given the same stop, and the retry never comes: the second is deleted next
    world.provider.add_group(NLB_GROUP)
    for endpoint_id in (ENDPOINT, OTHERS[0]):
        connect(world, endpoint_id)
        add_rules(request(endpoint_id=endpoint_id, spec=PROVIDER_ONLY), world.adapters())

    def stop(*args: Any) -> None:
        raise StoppedAfterRelease("stopped")

    forget = world.records.forget
    world.records.forget = stop
    with pytest.raises(StoppedAfterRelease):
        end(world, ENDPOINT)
    world.records.forget = forget

    # When the second connection ends, then the rule goes: the first no longer holds it
    end(world, OTHERS[0])
    assert world.provider.ingress_rules(NLB_GROUP) == ()
