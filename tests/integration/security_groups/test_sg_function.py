"""SecurityGroupsFunction on moto: what an accepted connection gets, what a re-delivery adds
(nothing), what removal takes (exactly ours), and what is refused and reported."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from sg_world import (
    CONSUMER,
    CONSUMER_V4,
    DECISION_TABLE,
    REGION,
    RULE_TABLE,
    Invoke,
    SgWorld,
    account_session,
    deploy_consumer_role,
)

from acceptor.flows.security_groups import UnexpectedEvent
from acceptor.flows.wiring import MissingRuleTable
from acceptor.security_groups.marking import CLAIM_TAG, ENDPOINT_TAG, rule_description

pytestmark = pytest.mark.integration


def cidrs_by_port(rules: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(r["FromPort"], r.get("CidrIpv4") or r["CidrIpv6"]) for r in rules}


def recorded(world: SgWorld) -> dict[str, set[str]]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=RULE_TABLE)["Items"]
    return {
        item["group_id"]["S"]: set(item.get("rule_ids", {}).get("SS", []))
        for item in items
        if item["endpoint_id"]["S"] == world.endpoint_id
    }


def holders(group_id: str) -> dict[str, set[str]]:
    """The holder items of the rule table: rule ID -> the endpoints it serves."""
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=RULE_TABLE)["Items"]
    return {
        item["endpoint_id"]["S"].removeprefix("rule#"): set(item["holders"]["SS"])
        for item in items
        if item["endpoint_id"]["S"].startswith("rule#") and item["group_id"]["S"] == group_id
    }


def shared_opt_in(world: SgWorld) -> dict[str, Any]:
    return {
        "consumer_endpoint": {"ports": [443], "allow_shared_groups": True},
        "provider": {"group": world.nlb_group, "ports": [443]},
    }


def codes(result: dict[str, Any]) -> set[str]:
    return {warning["code"] for warning in result["warnings"]}


@pytest.fixture
def consumer_role(world: SgWorld) -> dict[str, Any]:
    return deploy_consumer_role(CONSUMER, AllowSecurityGroupWrites="true")


def test_accept_adds_exactly_the_expected_rules_on_both_groups(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    result = invoke(world.decided())

    expected = {(443, CONSUMER_V4), (443, world.consumer_v6)}
    endpoint_rules = world.ingress(world.consumer_ec2, world.endpoint_group)
    nlb_rules = world.ingress(world.provider_ec2, world.nlb_group)
    assert cidrs_by_port(endpoint_rules) == expected
    assert cidrs_by_port(nlb_rules) == expected
    for rule in endpoint_rules + nlb_rules:
        assert rule["IpProtocol"] == "tcp"
        assert rule["ToPort"] == rule["FromPort"] == 443
        assert rule["Description"] == rule_description(world.endpoint_id)
        tags = {t["Key"]: t["Value"] for t in rule["Tags"]}
        assert tags[ENDPOINT_TAG] == world.endpoint_id
        assert tags[CLAIM_TAG]
    assert recorded(world) == {
        world.endpoint_group: {r["SecurityGroupRuleId"] for r in endpoint_rules},
        world.nlb_group: {r["SecurityGroupRuleId"] for r in nlb_rules},
    }
    assert result["status"] == "done"
    assert result["cidrs_from"] == "consumer-role"
    assert {g["status"] for g in result["groups"]} == {"added"}


def test_accept_puts_the_update_on_the_bus_and_in_the_decision_log(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    invoke(world.decided())

    (event,) = world.bus_events(expect=1)
    assert event["detail-type"] == "Endpoint Connection Security Groups Updated"
    assert event["source"] == "privatelink-acceptor"
    assert event["detail"]["endpoint_id"] == world.endpoint_id
    assert event["detail"]["operation"] == "add"
    assert event["detail"]["changed"] is True
    assert any(world.nlb_group in arn for arn in event["resources"])
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=DECISION_TABLE)["Items"]
    (item,) = items
    assert item["kind"]["S"] == "security-groups"
    assert item["decided_at"]["S"].endswith("#security-groups")
    assert int(item["expires_at"]["N"]) > 0


def test_redelivery_adds_no_rule_and_reports_nothing_changed(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    invoke(world.decided())
    before = world.ingress(world.consumer_ec2, world.endpoint_group) + world.ingress(
        world.provider_ec2, world.nlb_group
    )

    again = invoke(world.decided())

    after = world.ingress(world.consumer_ec2, world.endpoint_group) + world.ingress(
        world.provider_ec2, world.nlb_group
    )
    assert after == before
    assert again["changed"] is False
    assert {g["status"] for g in again["groups"]} == {"unchanged"}


@pytest.mark.parametrize(
    "removal",
    ["state:deleted", "state:rejected", "revocation"],
)
def test_removal_takes_exactly_ours_and_leaves_identical_looking_rules(
    world: SgWorld, consumer_role: Any, invoke: Invoke, removal: str
) -> None:
    # Given: before the accept, someone added the very rule we need to the NLB group, with our
    # description; after it, someone copied our marking onto another rule of the endpoint group.
    theirs_identical = world.provider_ec2.authorize_security_group_ingress(
        GroupId=world.nlb_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [
                    {"CidrIp": CONSUMER_V4, "Description": rule_description(world.endpoint_id)}
                ],
            }
        ],
    )["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    invoke(world.decided())
    theirs_copy = world.consumer_ec2.authorize_security_group_ingress(
        GroupId=world.endpoint_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8443,
                "ToPort": 8443,
                "IpRanges": [
                    {"CidrIp": CONSUMER_V4, "Description": rule_description(world.endpoint_id)}
                ],
            }
        ],
        TagSpecifications=[
            {
                "ResourceType": "security-group-rule",
                "Tags": [{"Key": ENDPOINT_TAG, "Value": world.endpoint_id}],
            }
        ],
    )["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    world.end_connection("deleted" if removal == "state:deleted" else "rejected")
    event = {
        "state:deleted": lambda: world.state_changed("deleted"),
        "state:rejected": lambda: world.state_changed("rejected"),
        "revocation": lambda: world.decided("security-groups-decided-revocation.json"),
    }[removal]()

    # When
    result = invoke(event)

    # Then
    nlb = world.ingress(world.provider_ec2, world.nlb_group)
    endpoint = world.ingress(world.consumer_ec2, world.endpoint_group)
    nlb_left = [r["SecurityGroupRuleId"] for r in nlb]
    endpoint_left = [r["SecurityGroupRuleId"] for r in endpoint]
    assert nlb_left == [theirs_identical]
    assert endpoint_left == [theirs_copy]
    assert recorded(world) == {}
    assert result["operation"] == "remove"
    assert "lookalike-left" in codes(result)


def test_removal_of_rules_someone_already_removed_succeeds(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    invoke(world.decided())
    for rule in world.ingress(world.provider_ec2, world.nlb_group):
        world.provider_ec2.revoke_security_group_ingress(
            GroupId=world.nlb_group, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]]
        )
    world.end_connection("deleted")

    result = invoke(world.state_changed("deleted"))

    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert recorded(world) == {}
    nlb = {g["group_id"]: g for g in result["groups"]}[world.nlb_group]
    assert nlb["status"] == "unchanged"
    assert nlb["removed"] == []


def test_a_shared_group_is_untouched_and_reported_without_opt_in(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    other = world.consumer_ec2.create_network_interface(
        SubnetId=world.consumer_subnet, Groups=[world.endpoint_group]
    )["NetworkInterface"]["NetworkInterfaceId"]

    result = invoke(world.decided())

    group = {g["group_id"]: g for g in result["groups"]}[world.endpoint_group]
    assert group["status"] == "skipped"
    assert group["shared_with"] == [other]
    assert "shared-group" in codes(result)
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert world.endpoint_group not in recorded(world)


def test_a_shared_group_is_patched_with_opt_in_and_reported_as_shared(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    other = world.consumer_ec2.create_network_interface(
        SubnetId=world.consumer_subnet, Groups=[world.endpoint_group]
    )["NetworkInterface"]["NetworkInterfaceId"]
    event = world.decided(security_groups=shared_opt_in(world))

    result = invoke(event)

    group = {g["group_id"]: g for g in result["groups"]}[world.endpoint_group]
    assert group["status"] == "added"
    assert group["shared_with"] == [other]
    assert len(world.ingress(world.consumer_ec2, world.endpoint_group)) == 2


def test_dry_run_plans_and_changes_nothing(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    result = invoke(world.decided("security-groups-decided-accept-dry-run.json"))

    assert result["status"] == "planned"
    assert {g["status"] for g in result["groups"]} == {"planned"}
    assert sum(len(g["added"]) for g in result["groups"]) == 4
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert world.ingress(world.provider_ec2, world.nlb_group) == []
    assert recorded(world) == {}
    (event,) = world.bus_events(expect=1)
    assert event["detail"]["dry_run"] is True


def test_dry_run_setting_keeps_a_real_accept_from_changing_anything(
    world: SgWorld, consumer_role: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")

    result = invoke(world.decided())

    assert result["dry_run"] is True
    assert world.ingress(world.provider_ec2, world.nlb_group) == []


def test_without_the_consumer_role_the_consumer_side_is_skipped_with_the_reason(
    world: SgWorld, invoke: Invoke
) -> None:
    result = invoke(world.decided())

    assert "consumer-unavailable" in codes(result)
    reason = next(w for w in result["warnings"] if w["code"] == "consumer-unavailable")
    assert "AccessDenied" in reason["message"]
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    # The CIDRs in the event (Decide's reading) are never a source: nothing opens anywhere.
    assert result["cidrs_from"] is None
    assert world.ingress(world.provider_ec2, world.nlb_group) == []


def test_without_the_role_or_cidrs_nothing_opens_and_the_nlb_warning_is_given(
    world: SgWorld, invoke: Invoke
) -> None:
    result = invoke(world.decided(vpc_cidrs=None))

    assert {"consumer-unavailable", "cidrs-unknown", "nlb-enforces-unknown-cidrs"} <= codes(result)
    assert world.ingress(world.provider_ec2, world.nlb_group) == []
    assert recorded(world) == {}


def test_a_wrong_external_id_is_the_same_as_no_role(world: SgWorld, invoke: Invoke) -> None:
    deploy_consumer_role(CONSUMER, AllowSecurityGroupWrites="true", ExternalId="someone-else")

    result = invoke(world.decided())

    assert "consumer-unavailable" in codes(result)
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert world.clients.assumed == []


def test_the_events_cidrs_are_never_opened_only_the_vpcs(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    result = invoke(world.decided(vpc_cidrs=["0.0.0.0/0", "::/0", "203.0.113.0/24"]))

    assert result["cidrs"] == [CONSUMER_V4, world.consumer_v6]
    assert cidrs_by_port(world.ingress(world.provider_ec2, world.nlb_group)) == {
        (443, CONSUMER_V4),
        (443, world.consumer_v6),
    }


@pytest.mark.parametrize("how", ["deleted", "rejected"])
def test_an_accept_handled_after_the_connection_ended_opens_nothing(
    world: SgWorld, consumer_role: Any, invoke: Invoke, how: str
) -> None:
    world.end_connection(how)

    result = invoke(world.decided())

    assert result["status"] == "refused"
    assert world.ingress(world.provider_ec2, world.nlb_group) == []
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert recorded(world) == {}


def test_a_failed_accept_opens_nothing(world: SgWorld, consumer_role: Any, invoke: Invoke) -> None:
    result = invoke(
        world.decided(action={"type": "accept", "result": "failed", "error": "Throttled"})
    )

    assert result["status"] == "ignored"
    assert world.ingress(world.provider_ec2, world.nlb_group) == []


def test_an_event_of_another_type_is_refused_loudly(world: SgWorld, invoke: Invoke) -> None:
    event = world.decided()
    event["detail-type"] = "Endpoint Connection Requested"

    with pytest.raises(UnexpectedEvent):
        invoke(event)


def test_without_the_rule_table_nothing_is_added(
    world: SgWorld, consumer_role: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECURITY_GROUP_RULE_TABLE")

    with pytest.raises(MissingRuleTable):
        invoke(world.decided())
    assert world.ingress(world.provider_ec2, world.nlb_group) == []


def test_a_reject_of_a_connection_never_opened_publishes_nothing(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    world.end_connection("rejected")

    result = invoke(world.decided("security-groups-decided-revocation.json"))

    assert result["status"] == "nothing-to-do"
    assert world.bus_events(expect=1, timeout=0.5) == []


def test_a_consumer_endpoint_in_another_region_is_read_and_patched_there(
    world: SgWorld, invoke: Invoke
) -> None:
    # Given: the service also serves eu-west-1, where the consumer has its endpoint
    # (cross-region PrivateLink), the consumer's write role serves that region, and the
    # provider accepted it
    deploy_consumer_role(CONSUMER, AllowSecurityGroupWrites="true", WriteRegion="eu-west-1")
    world.provider_ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=world.service_id, AddSupportedRegions=["eu-west-1"]
    )
    service_name = world.provider_ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[world.service_id]
    )["ServiceConfigurations"][0]["ServiceName"]
    remote = account_session(CONSUMER, "eu-west-1").client("ec2")
    vpc = remote.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = remote.create_security_group(GroupName="e", Description="e", VpcId=vpc)["GroupId"]
    subnet = remote.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    endpoint = remote.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=service_name,
        ServiceRegion=REGION,
        VpcEndpointType="Interface",
        SubnetIds=[subnet],
        SecurityGroupIds=[group],
    )["VpcEndpoint"]["VpcEndpointId"]
    world.provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=world.service_id, VpcEndpointIds=[endpoint]
    )
    event = world.decided(
        region="eu-west-1", vpc_cidrs=None, security_groups={"consumer_endpoint": {"ports": [443]}}
    )
    event["detail"]["endpoint_id"] = endpoint

    # When
    result = invoke(event)

    # Then
    assert cidrs_by_port(world.ingress(remote, group)) == {(443, "10.9.0.0/16")}
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert result["region"] == "eu-west-1"


# The IAM actions SecurityGroupsFunction's own role needs (docs/security-groups.md, "Least
# privilege"; the template's SecurityGroupsFunction policy grants exactly these).
PROVIDER_ACTIONS = {
    "ec2:DescribeVpcEndpointConnections",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "elasticloadbalancing:DescribeLoadBalancers",
    "ec2:DescribeSecurityGroupRules",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:CreateTags",
    "sts:AssumeRole",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:BatchWriteItem",
    "events:PutEvents",
}


def test_every_call_is_one_the_roles_grant(world: SgWorld, invoke: Invoke) -> None:
    # Given: the consumer role as consumer-role.yaml makes it, writes allowed
    rendered = deploy_consumer_role(
        CONSUMER, AllowSecurityGroupWrites="true", SecurityGroupWriteScope="account"
    )
    granted = {
        f"arn:aws:iam::{CONSUMER}:role/{role['name']}": {
            action
            for document in role["policies"].values()
            for statement in document["Statement"]
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        }
        for role in (rendered, rendered["write"])
    }
    world.consumer_ec2.create_network_interface(
        SubnetId=world.consumer_subnet, Groups=[world.endpoint_group]
    )

    # When: every path that reaches AWS runs (add, re-delivery, dry run, shared group, removal)
    event = world.decided(security_groups=shared_opt_in(world))
    invoke(event)
    invoke(event)
    invoke(world.decided("security-groups-decided-accept-dry-run.json"))
    invoke(world.decided())
    world.end_connection("deleted")
    invoke(world.state_changed("deleted"))

    # Then
    provider = {c.action for c in world.clients.calls if c.caller == "provider"}
    assert provider == PROVIDER_ACTIONS
    by_role = {
        role: {c.action for c in world.clients.calls if c.caller == role} for role in granted
    }
    for role, actions in by_role.items():
        assert actions <= granted[role], role
    read_role, write_role = granted
    assert by_role[write_role] >= {
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
    }
    assert not {a for a in by_role[read_role] if not a.startswith("ec2:Describe")}, (
        "the read role only reads"
    )


def test_with_the_read_role_only_the_endpoint_group_is_not_changed_and_says_why(
    world: SgWorld, invoke: Invoke
) -> None:
    # Given: the consumer deployed consumer-role.yaml without writes (no write role)
    deploy_consumer_role(CONSUMER)

    # When
    result = invoke(world.decided())

    # Then: the read role was used to read; nothing was written through it
    assert world.ingress(world.consumer_ec2, world.endpoint_group) == []
    assert world.clients.assumed == [f"arn:aws:iam::{CONSUMER}:role/PrivateLinkAcceptorConsumer"]
    consumer_writes = {
        c.action
        for c in world.clients.calls
        if c.caller != "provider" and not c.action.startswith("ec2:Describe")
    }
    assert consumer_writes == set()
    assert "access-denied" in codes(result), "the unopened endpoint group is reported"


# A forged "Endpoint Connection Decided" (docs/security-groups.md, "What an event may make it
# do"): anyone who could put it on the bus gets nothing the re-read does not bear out.


def test_a_forged_accept_for_a_pending_connection_opens_nothing(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    # Given a connection still pending acceptance, and an event that says it was accepted
    pending = world.connect("10.7.0.0/16", accept=False)
    event = world.decided()
    event["detail"]["endpoint_id"] = pending

    # When
    result = invoke(event)

    # Then
    assert (result["status"], result["refusal"]) == ("refused", "connection-not-accepted")
    assert world.ingress(world.provider_ec2, world.nlb_group) == []
    assert world.bus_events(expect=1, timeout=0.5) == []


def test_a_forged_accept_asking_for_22_and_3389_from_anywhere_opens_only_the_policy_port(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    # Given the bundled policy opens 443, and an event for the accepted connection that names
    # its rule but asks for 22 and 3389 from 0.0.0.0/0
    event = world.decided()
    event["detail"]["security_groups"] = {
        "consumer_endpoint": {"ports": [22, 3389], "allow_shared_groups": True},
        "provider": {"group": world.nlb_group, "ports": [22, 3389]},
    }
    event["detail"]["vpc_cidrs"] = ["0.0.0.0/0", "198.51.100.0/24"]

    # When
    invoke(event)

    # Then
    opened = world.ingress(world.provider_ec2, world.nlb_group) + world.ingress(
        world.consumer_ec2, world.endpoint_group
    )
    assert {r["FromPort"] for r in opened} == {443}
    assert {r.get("CidrIpv4") or r["CidrIpv6"] for r in opened} == {CONSUMER_V4, world.consumer_v6}


def test_a_forged_accept_from_another_policy_or_another_owner_opens_nothing(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    stale = world.decided()
    stale["detail"]["policy_hash"] = "0123456789abcdef"
    foreign = world.decided(account="444455556666")

    assert invoke(stale)["refusal"] == "policy-changed"
    assert invoke(foreign)["refusal"] == "owner-mismatch"
    assert world.ingress(world.provider_ec2, world.nlb_group) == []


def test_a_deleted_state_change_for_a_live_connection_removes_nothing(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    invoke(world.decided())
    before = world.ingress(world.provider_ec2, world.nlb_group)
    event = world.state_changed("deleted")
    event["detail"]["service_id"] = "vpce-svc-0fffffffffffffff0"

    result = invoke(event)

    assert result["refusal"] == "connection-live"
    assert world.ingress(world.provider_ec2, world.nlb_group) == before


# Shared rules (docs/security-groups.md, "Shared rules"): connections from VPCs with the same
# CIDR need the very same provider rule; it goes only with its last holder.


def _provider_only(world: SgWorld, endpoint_id: str) -> Any:
    event = world.decided(security_groups={"provider": {"group": world.nlb_group, "ports": [443]}})
    event["detail"]["endpoint_id"] = endpoint_id
    return event


def _deleted(world: SgWorld, endpoint_id: str) -> Any:
    world.consumer_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    event = world.state_changed("deleted")
    event["detail"]["endpoint_id"] = endpoint_id
    return event


@pytest.mark.parametrize("count", [2, 3])
def test_a_rule_shared_by_connections_goes_only_with_its_last_holder(
    world: SgWorld, consumer_role: Any, invoke: Invoke, count: int
) -> None:
    # Given `count` accepted connections from VPCs with the same CIDR, each opened on the NLB
    endpoints = [world.connect(DEFAULT_VPC) for _ in range(count)]
    for endpoint_id in endpoints:
        invoke(_provider_only(world, endpoint_id))
    (rule,) = world.ingress(world.provider_ec2, world.nlb_group)
    assert holders(world.nlb_group) == {rule["SecurityGroupRuleId"]: set(endpoints)}

    # When every holder but the last is deleted, the rule stays for the ones left
    for gone, endpoint_id in enumerate(endpoints[:-1], start=1):
        result = invoke(_deleted(world, endpoint_id))
        assert world.ingress(world.provider_ec2, world.nlb_group) == [rule]
        assert "rule-still-held" in codes(result)
        assert holders(world.nlb_group) == {rule["SecurityGroupRuleId"]: set(endpoints[gone:])}

    # Then the last one takes it
    result = invoke(_deleted(world, endpoints[-1]))
    assert world.ingress(world.provider_ec2, world.nlb_group) == []
    assert holders(world.nlb_group) == {}
    nlb = {g["group_id"]: g for g in result["groups"]}[world.nlb_group]
    assert nlb["removed"] == [rule["SecurityGroupRuleId"]]


def test_a_holder_whose_end_was_never_announced_does_not_keep_the_rule(
    world: SgWorld, consumer_role: Any, invoke: Invoke
) -> None:
    first, second = world.connect(DEFAULT_VPC), world.connect(DEFAULT_VPC)
    invoke(_provider_only(world, first))
    invoke(_provider_only(world, second))
    # The second is rejected, but its event never reached the function
    world.provider_ec2.reject_vpc_endpoint_connections(
        ServiceId=world.service_id, VpcEndpointIds=[second]
    )

    invoke(_deleted(world, first))

    assert world.ingress(world.provider_ec2, world.nlb_group) == []


DEFAULT_VPC = "172.31.0.0/16"
