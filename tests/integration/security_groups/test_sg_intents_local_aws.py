"""Intents of security-group changes on the local AWS (docs/security-groups.md, "Intents"): a
change AWS applied whose response was lost (`applied_then_5xx`), or after which the function
stopped before recording it, is completed from a re-read by the retry or the next event; its
rules exist exactly once, are recorded and held, and go when the connection is deleted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from sg_world import CONSUMER, REGION, RULE_TABLE, Invoke, SgWorld, deploy_consumer_role
from test_sg_function import DEFAULT_VPC, _deleted, _provider_only, holders, recorded

from acceptor.aws.errors import AwsError
from acceptor.aws.rule_records import RuleRecordTable
from acceptor_tools.local_aws import FaultRule
from acceptor_tools.local_aws.state import extension_state

pytestmark = pytest.mark.integration


@pytest.fixture
def consumer_role(world: SgWorld) -> dict[str, Any]:
    return deploy_consumer_role(CONSUMER, AllowSecurityGroupWrites="true")


@pytest.fixture
def faults() -> Iterator[Any]:
    injector = extension_state().faults
    yield injector
    injector.clear()


def open_intents(endpoint_id: str) -> dict[str, str]:
    """The endpoint's open intents in the rule table: group ID -> operation."""
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=RULE_TABLE)["Items"]
    return {
        item["group_id"]["S"]: item["operation"]["S"]
        for item in items
        if item["endpoint_id"]["S"] == f"intent#{endpoint_id}"
    }


def rule_ids(rules: list[dict[str, Any]]) -> set[str]:
    return {r["SecurityGroupRuleId"] for r in rules}


def both_groups(world: SgWorld) -> dict[str, list[dict[str, Any]]]:
    return {
        world.endpoint_group: world.ingress(world.consumer_ec2, world.endpoint_group),
        world.nlb_group: world.ingress(world.provider_ec2, world.nlb_group),
    }


def test_an_authorize_applied_and_answered_500_is_recorded_by_the_retry_and_removed_later(
    world: SgWorld, consumer_role: Any, invoke: Invoke, faults: Any
) -> None:
    # Given every AuthorizeSecurityGroupIngress is applied and answered 500 (retries included)
    faults.configure([FaultRule("AuthorizeSecurityGroupIngress", "applied_then_5xx", 1.0)], seed=1)

    # When the accept is handled, it fails (Lambda retries the event)
    with pytest.raises(AwsError, match="after applying"):
        invoke(world.decided())
    # Then the first group's rules exist, unrecorded, under an open intent
    first = world.ingress(world.consumer_ec2, world.endpoint_group)
    assert len(first) == 2  # IPv4 and IPv6 on 443, once each despite botocore's retries
    assert recorded(world).get(world.endpoint_group, set()) == set()
    assert open_intents(world.endpoint_id) == {world.endpoint_group: "add"}

    # When the retry runs with AWS answering normally
    faults.clear()
    result = invoke(world.decided())

    # Then every rule exists exactly once, recorded and held, and no intent is open
    groups = both_groups(world)
    assert all(len(rules) == 2 for rules in groups.values())
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == first
    assert recorded(world) == {group: rule_ids(rules) for group, rules in groups.items()}
    for group, rules in groups.items():
        assert holders(group) == {rid: {world.endpoint_id} for rid in rule_ids(rules)}
    assert open_intents(world.endpoint_id) == {}
    outcome = {g["group_id"]: g for g in result["groups"]}
    assert {rule["rule_id"] for rule in outcome[world.endpoint_group]["added"]} == rule_ids(first)
    assert result["changed"] is True

    # When the connection is deleted, then everything goes: no orphan rule, record or intent
    world.end_connection("deleted")
    invoke(world.state_changed("deleted"))
    assert both_groups(world) == {world.endpoint_group: [], world.nlb_group: []}
    assert recorded(world) == {}
    assert holders(world.nlb_group) == {}
    assert open_intents(world.endpoint_id) == {}


def test_a_lost_authorize_response_met_as_a_duplicate_is_ours_and_held_for_sharers(
    world: SgWorld, consumer_role: Any, invoke: Invoke, faults: Any
) -> None:
    # Given two connections from VPCs with the same CIDR, and the first one's authorize applied
    # and answered 500 once (botocore's retry then meets the rule as a duplicate)
    first, second = world.connect(DEFAULT_VPC), world.connect(DEFAULT_VPC)
    faults.configure([FaultRule("AuthorizeSecurityGroupIngress", "applied_then_5xx", 0.5)], seed=1)
    result = invoke(_provider_only(world, first))
    assert faults.injected[("AuthorizeSecurityGroupIngress", "applied_then_5xx")] == 1
    faults.clear()

    # Then the rule is reported added, recorded and held by the first connection
    (rule,) = world.ingress(world.provider_ec2, world.nlb_group)
    rid = rule["SecurityGroupRuleId"]
    (nlb,) = result["groups"]
    assert (nlb["status"], [r["rule_id"] for r in nlb["added"]]) == ("added", [rid])
    assert holders(world.nlb_group) == {rid: {first}}
    assert open_intents(first) == {}

    # When the second joins it and the first is deleted, the rule stays for the second
    invoke(_provider_only(world, second))
    assert holders(world.nlb_group) == {rid: {first, second}}
    invoke(_deleted(world, first))
    assert world.ingress(world.provider_ec2, world.nlb_group) == [rule]

    # And it goes with the second
    invoke(_deleted(world, second))
    assert world.ingress(world.provider_ec2, world.nlb_group) == []
    assert holders(world.nlb_group) == {}


def test_a_revoke_applied_and_answered_500_is_completed_by_the_retry(
    world: SgWorld, consumer_role: Any, invoke: Invoke, faults: Any
) -> None:
    # Given an accepted connection with its rules, then deleted
    invoke(world.decided())
    ours = {group: rule_ids(rules) for group, rules in both_groups(world).items()}
    world.end_connection("deleted")

    # When every RevokeSecurityGroupIngress is applied and answered 500, the removal fails
    faults.configure([FaultRule("RevokeSecurityGroupIngress", "applied_then_5xx", 1.0)], seed=1)
    with pytest.raises(AwsError, match="after applying"):
        invoke(world.state_changed("deleted"))
    revoked_first = next(group for group, rules in both_groups(world).items() if not rules)
    assert recorded(world)[revoked_first] == ours[revoked_first], "still recorded"
    assert open_intents(world.endpoint_id) == {revoked_first: "remove"}

    # When the retry runs with AWS answering normally
    faults.clear()
    result = invoke(world.state_changed("deleted"))

    # Then every rule is gone, nothing is recorded or open, and the removal says what went
    assert both_groups(world) == {world.endpoint_group: [], world.nlb_group: []}
    assert recorded(world) == {}
    assert holders(world.nlb_group) == {}
    assert open_intents(world.endpoint_id) == {}
    removed = {g["group_id"]: set(g["removed"]) for g in result["groups"]}
    assert removed == ours


class Stopped(RuntimeError):
    """The function stopped between the change and its record (a timeout, a crash)."""


@pytest.fixture
def stop_before_recording(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first record of created rules raises, as if the function had stopped there."""
    stops: list[int] = []
    original = RuleRecordTable.record_created

    def record_created(self: RuleRecordTable, *args: Any, **kwargs: Any) -> None:
        if not stops:
            stops.append(1)
            raise Stopped("stopped after the authorize, before the record")
        original(self, *args, **kwargs)

    monkeypatch.setattr(RuleRecordTable, "record_created", record_created)
    return stops


@pytest.mark.parametrize("next_event", ["retry", "deleted"])
def test_a_stop_between_the_authorize_and_the_record_is_completed_by_the_next_event(
    world: SgWorld,
    consumer_role: Any,
    invoke: Invoke,
    stop_before_recording: list[int],
    next_event: str,
) -> None:
    # Given the function stops after its first authorize, before recording it
    with pytest.raises(Stopped):
        invoke(world.decided())
    stranded = world.ingress(world.consumer_ec2, world.endpoint_group)
    assert len(stranded) == 2
    assert recorded(world).get(world.endpoint_group, set()) == set()
    assert open_intents(world.endpoint_id) == {world.endpoint_group: "add"}

    if next_event == "retry":
        # When the event is retried, then the stranded rules are recorded once, and kept
        invoke(world.decided())
        assert world.ingress(world.consumer_ec2, world.endpoint_group) == stranded
        assert recorded(world)[world.endpoint_group] == rule_ids(stranded)
        assert len(world.ingress(world.provider_ec2, world.nlb_group)) == 2
    else:
        # When the connection is deleted before any retry, then the stranded rules go with it
        world.end_connection("deleted")
        invoke(world.state_changed("deleted"))
        assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
        assert recorded(world) == {}
    assert open_intents(world.endpoint_id) == {}
