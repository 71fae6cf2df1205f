"""The security-group adapters on moto: races on authorize and revoke, error translation, the
rule table's claims, and what the load balancer says about PrivateLink traffic."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto import mock_aws

from acceptor.aws.rule_records import RuleRecordTable
from acceptor.aws.security_groups import (
    ConsumerSecurityGroups,
    Ec2SecurityGroups,
    ProviderSecurityGroups,
)
from acceptor.security_groups.marking import CLAIM_TAG, ENDPOINT_TAG
from acceptor.security_groups.model import (
    EndpointNotFound,
    GroupNotFound,
    GroupRecord,
    Intent,
    Permission,
)
from helpers.aws import FAKE_CREDENTIALS
from integration.stack_tables import create_table

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
TABLE = "rules"


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch, clean_aws_environment: None) -> Iterator[Any]:
    for name, value in {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


@pytest.fixture
def group(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group_id: str = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    return group_id


@pytest.fixture
def table(ec2: Any) -> RuleRecordTable:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, "security-group-rules", TABLE)
    return RuleRecordTable(dynamodb, TABLE)


def test_authorize_creates_one_tagged_rule_per_permission(ec2: Any, group: str) -> None:
    groups = Ec2SecurityGroups(ec2)
    wanted = [Permission(443, "10.1.0.0/16"), Permission(443, "2600:1f18:abcd:1200::/56")]

    result = groups.authorize(group, wanted, endpoint_id=ENDPOINT, claim="c-1")

    assert set(result.created) == set(wanted)
    rules = {r.rule_id: r for r in groups.ingress_rules(group)}
    assert set(rules) == set(result.created.values())
    for rule in rules.values():
        assert rule.tags == {ENDPOINT_TAG: ENDPOINT, CLAIM_TAG: "c-1"}


def test_authorize_racing_an_identical_rule_creates_the_rest_and_reports_the_duplicate(
    ec2: Any, group: str
) -> None:
    groups = Ec2SecurityGroups(ec2)
    raced = Permission(443, "10.1.0.0/16")
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": raced.cidr}],
            }
        ],
    )

    result = groups.authorize(
        group, [raced, Permission(8443, "10.1.0.0/16")], endpoint_id=ENDPOINT, claim="c-1"
    )

    assert list(result.created) == [Permission(8443, "10.1.0.0/16")]
    assert result.duplicates == (raced,)


def test_revoke_of_a_mix_of_present_and_gone_rules_revokes_the_present_ones(
    ec2: Any, group: str
) -> None:
    groups = Ec2SecurityGroups(ec2)
    created = groups.authorize(
        group, [Permission(443, "10.1.0.0/16")], endpoint_id=ENDPOINT, claim="c-1"
    ).created
    (rule_id,) = created.values()

    result = groups.revoke(group, [rule_id, "sgr-0123456789abcdef0"])

    assert result.revoked == (rule_id,)
    assert result.already_gone == ("sgr-0123456789abcdef0",)
    assert groups.ingress_rules(group) == ()


def test_an_unknown_group_is_a_domain_error(ec2: Any) -> None:
    with pytest.raises(GroupNotFound):
        Ec2SecurityGroups(ec2).authorize(
            "sg-0123456789abcdef0",
            [Permission(443, "10.1.0.0/16")],
            endpoint_id=ENDPOINT,
            claim="c",
        )


def test_an_unknown_endpoint_is_a_domain_error(ec2: Any) -> None:
    with pytest.raises(EndpointNotFound):
        ConsumerSecurityGroups(ec2).endpoint("vpce-0123456789abcdef0")


def test_vpc_cidrs_are_the_associated_ipv4_and_ipv6_blocks(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.3.0.0/16")

    cidrs = ConsumerSecurityGroups(ec2).vpc_cidrs(vpc)

    assert cidrs[:2] == ("10.2.0.0/16", "10.3.0.0/16")
    assert len(cidrs) == 3
    assert ":" in cidrs[2]


class _Balancers:
    def __init__(self, enforcement: str | None) -> None:
        self.enforcement = enforcement

    def describe_load_balancers(self, *, LoadBalancerArns: list[str]) -> Mapping[str, Any]:
        item: dict[str, Any] = {"LoadBalancerArn": LoadBalancerArns[0], "SecurityGroups": ["sg-1"]}
        if self.enforcement is not None:
            item["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = self.enforcement
        return {"LoadBalancers": [item]}


@pytest.mark.parametrize(("reported", "read"), [("on", "on"), ("off", "off"), (None, "unknown")])
def test_the_nlb_enforcement_setting_is_read_and_its_absence_is_unknown(
    ec2: Any, reported: str | None, read: str
) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    nlb = elbv2.create_load_balancer(Name="n", Subnets=[subnet], Type="network")["LoadBalancers"][0]
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb["LoadBalancerArn"]]
    )["ServiceConfiguration"]["ServiceId"]

    (balancer,) = ProviderSecurityGroups(ec2, _Balancers(reported)).load_balancers(service)

    assert balancer.arn == nlb["LoadBalancerArn"]
    assert balancer.enforcement == read


def test_moto_does_not_report_nlb_enforcement_so_it_reads_as_unknown(ec2: Any) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="n", Description="n", VpcId=vpc)["GroupId"]
    nlb = elbv2.create_load_balancer(
        Name="n", Subnets=[subnet], Type="network", SecurityGroups=[group]
    )["LoadBalancers"][0]
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb["LoadBalancerArn"]]
    )["ServiceConfiguration"]["ServiceId"]

    (balancer,) = ProviderSecurityGroups(ec2, elbv2).load_balancers(service)

    assert balancer.group_ids == (group,)
    assert balancer.enforcement == "unknown"


def record(claim: str = "c-1") -> GroupRecord:
    return GroupRecord(ENDPOINT, "sg-0123456789abcdef0", "provider", "123456789012", REGION, claim)


def test_a_claim_is_made_once_and_later_claims_get_the_first(table: RuleRecordTable) -> None:
    first = table.claim(record("c-1"))
    second = table.claim(record("c-2"))

    assert first.claim == second.claim == "c-1"


def test_remembered_ids_add_up_and_forgetting_all_drops_the_record(
    table: RuleRecordTable,
) -> None:
    stored = table.claim(record())
    table.remember(stored, ["sgr-1"])
    table.remember(stored, ["sgr-2", "sgr-1"])

    (loaded,) = table.load(ENDPOINT)
    assert loaded.rule_ids == {"sgr-1", "sgr-2"}

    table.forget(loaded, ["sgr-1"])
    assert table.load(ENDPOINT)[0].rule_ids == {"sgr-2"}
    table.forget(loaded, ["sgr-2"])
    assert table.load(ENDPOINT) == ()


def test_forgetting_under_another_claim_keeps_the_record(table: RuleRecordTable) -> None:
    table.claim(record("c-new"))

    table.forget(record("c-old"), [])

    assert [r.claim for r in table.load(ENDPOINT)] == ["c-new"]


def test_forgetting_a_record_already_gone_is_a_no_op(table: RuleRecordTable) -> None:
    table.forget(record(), ["sgr-1"])

    assert table.load(ENDPOINT) == ()


# Holder items (docs/security-groups.md, "Shared rules").
GROUP, RULE = "sg-0123456789abcdef0", "sgr-0123456789abcdef0"
FIRST, SECOND = "vpce-0a1b2c3d4e5f60718", "vpce-01a2b3c4d5e6f7089"


def test_a_created_rule_is_held_and_others_join_it(table: RuleRecordTable) -> None:
    assert table.hold(GROUP, RULE, FIRST, created=True)
    assert table.hold(GROUP, RULE, SECOND, created=False)

    assert table.holders(GROUP, RULE) == {FIRST, SECOND}
    assert table.load(FIRST) == ()  # holder items never read as records


def test_a_rule_without_holders_cannot_be_joined(table: RuleRecordTable) -> None:
    assert table.hold(GROUP, RULE, SECOND, created=False) is False
    assert table.holders(GROUP, RULE) == frozenset()


def test_releasing_the_last_holder_deletes_the_item(table: RuleRecordTable) -> None:
    table.hold(GROUP, RULE, FIRST, created=True)
    table.hold(GROUP, RULE, SECOND, created=False)

    table.release(GROUP, RULE, FIRST)
    assert table.holders(GROUP, RULE) == {SECOND}
    table.release(GROUP, RULE, SECOND)

    assert table.holders(GROUP, RULE) == frozenset()
    # Gone, not empty: a later connection cannot join a rule nobody holds.
    assert table.hold(GROUP, RULE, FIRST, created=False) is False


def test_dropping_a_revoked_rule_forgets_every_holder(table: RuleRecordTable) -> None:
    table.hold(GROUP, RULE, FIRST, created=True)
    table.hold(GROUP, RULE, SECOND, created=False)

    table.drop_rule(GROUP, RULE)

    assert table.holders(GROUP, RULE) == frozenset()


def _operations(table: RuleRecordTable) -> list[str]:
    """The DynamoDB operations the table's client makes from now on, in order."""
    made: list[str] = []
    client = table._dynamodb
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: made.append(model.name)
    )
    return made


def test_recording_created_rules_holds_and_lists_them_in_one_transaction(
    table: RuleRecordTable,
) -> None:
    made = _operations(table)

    table.record_created(record(), ["sgr-1", "sgr-2"])

    assert made == ["TransactWriteItems"]
    assert table.holders(GROUP, "sgr-1") == table.holders(GROUP, "sgr-2") == {ENDPOINT}
    (loaded,) = table.load(ENDPOINT)
    assert (loaded.claim, loaded.rule_ids) == ("c-1", {"sgr-1", "sgr-2"})


def test_more_rules_than_a_transaction_holds_are_recorded_in_several(
    table: RuleRecordTable,
) -> None:
    ids = [f"sgr-{n:03d}" for n in range(150)]
    made = _operations(table)

    table.record_created(record(), ids)

    assert made == ["TransactWriteItems", "TransactWriteItems"]
    assert table.load(ENDPOINT)[0].rule_ids == set(ids)
    assert table.holders(GROUP, ids[-1]) == {ENDPOINT}


def test_joining_a_held_rule_holds_and_lists_it_together(table: RuleRecordTable) -> None:
    table.hold(GROUP, RULE, SECOND, created=True)
    made = _operations(table)

    assert table.join(record(), RULE) is True

    assert made == ["TransactWriteItems"]
    assert table.holders(GROUP, RULE) == {SECOND, ENDPOINT}
    assert table.load(ENDPOINT)[0].rule_ids == {RULE}


def test_a_rule_nobody_holds_is_not_joined_and_nothing_is_written(
    table: RuleRecordTable,
) -> None:
    assert table.join(record(), RULE) is False

    assert table.holders(GROUP, RULE) == frozenset()
    assert table.load(ENDPOINT) == ()  # the record's half of the transaction did not happen


def test_an_intent_is_written_read_back_and_ended_only_by_itself(
    table: RuleRecordTable,
) -> None:
    older = table.begin(Intent("add", record(), permissions=(Permission(443, "10.1.0.0/16"),)))
    newer = table.begin(Intent("remove", record(), rule_ids=("sgr-2", "sgr-1")))

    (stored,) = table.intents(ENDPOINT)
    assert stored == newer
    assert (stored.operation, stored.rule_ids, stored.record) == (
        "remove",
        ("sgr-1", "sgr-2"),
        record(),
    )
    table.end(older)
    assert table.intents(ENDPOINT) == (newer,)
    assert table.load(ENDPOINT) == ()  # intents never read as records
    table.end(newer)
    assert table.intents(ENDPOINT) == ()


def test_an_add_intent_keeps_its_planned_permissions(table: RuleRecordTable) -> None:
    planned = (Permission(443, "10.1.0.0/16"), Permission(8443, "2600:1f18:abcd:1200::/56"))

    table.begin(Intent("add", record(), permissions=planned))

    (stored,) = table.intents(ENDPOINT)
    assert (stored.operation, stored.permissions, stored.rule_ids) == ("add", planned, ())
    assert stored.started_at
