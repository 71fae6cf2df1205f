"""World files: validation, and the demo world as created through the AWS APIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from local_aws_helpers import (
    ANALYTICS,
    ORDERS_SERVICE,
    PARTNER,
    PAYMENTS,
    PROVIDER,
    REPORTS_SERVICE,
    SANDBOX,
    STATUS_SERVICE,
)

from acceptor_tools.local_aws import LocalAws, WorldError, load_world, parse_world

pytestmark = pytest.mark.disable_socket

MINIMAL = """
version: 1
provider:
  account: "999988887777"
  vpcs:
    - name: p
      cidr: 10.0.0.0/16
      subnets: [{name: a, cidr: 10.0.1.0/24}]
  load_balancers: [{name: nlb, vpc: p, subnets: [a]}]
  services: [{name: svc, load_balancers: [nlb]}]
accounts:
  - account: "111122223333"
    name: consumer
    vpcs:
      - name: c
        cidr: 10.1.0.0/16
        subnets: [{name: a, cidr: 10.1.1.0/24}]
endpoints:
  - {name: e, account: "111122223333", vpc: c, service: svc}
"""


def _edit(change: str, replacement: str) -> str:
    assert change in MINIMAL
    return MINIMAL.replace(change, replacement)


def test_minimal_world_is_valid() -> None:
    world = parse_world(MINIMAL)
    assert world.region == "us-east-1"
    assert world.provider.services[0].acceptance_required is True
    assert world.provider.services[0].allowed_principals == ["*"]
    assert not world.has_organization


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_edit('account: "111122223333"\n    name', "account: 111122223333\n    name"), "quote"),
        (_edit("service: svc}", "service: nope}"), "unknown service 'nope'"),
        (_edit("vpc: c, service", "vpc: x, service"), "has no VPC 'x'"),
        (_edit("subnets: [a]}]", "subnets: [z]}]"), "unknown subnet 'z'"),
        (_edit("load_balancers: [nlb]}]", "load_balancers: [other]}]"), "unknown load balancer"),
        (_edit("cidr: 10.1.1.0/24", "cidr: 10.9.1.0/24"), "is not in 10.1.0.0/16"),
        (_edit("cidr: 10.1.0.0/16", "cidr: 10.1.0.1/16"), "host bits set"),
        (_edit("version: 1", "version: 2"), "version"),
        (_edit("    name: consumer", "    name: provider"), "duplicate name in account names"),
        (_edit("    name: consumer", "    name: consumer\n    colour: blue"), "colour"),
        (
            _edit('account: "111122223333"\n    name', 'account: "999988887777"\n    name'),
            "duplicate name in account IDs",
        ),
        (
            MINIMAL
            + "organization:\n  root_id: r-ab12\n  units: [{path: x, id: ou-zz99-11111111}]",
            "must carry the root's suffix",
        ),
        (_edit("{name: e, account", "{name: e, id: vpce-xyz, account"), "vpce-"),
        (_edit("    - name: c\n", "    - name: c\n        id: vpc-0123\n"), "vpc-"),
        (
            _edit("    - name: c\n", "    - name: c\n        id: vpc-0a1b2c3d4e5f67890\n").replace(
                "    - name: p\n", "    - name: p\n      id: vpc-0a1b2c3d4e5f67890\n"
            ),
            "duplicate name in pinned IDs: 'vpc-0a1b2c3d4e5f67890'",
        ),
    ],
)
def test_invalid_world_is_refused_with_a_message_that_says_where(text: str, message: str) -> None:
    with pytest.raises(WorldError) as caught:
        parse_world(text, "world.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("world.yaml")


def test_world_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(WorldError, match="not a world file"):
        parse_world("- just\n- a list\n")


def test_a_policy_file_given_as_a_world_is_named_for_what_it_is() -> None:
    policy = "version: 1\nservices: ['*']\ndefault: hold\nrules: []\n"

    with pytest.raises(WorldError) as caught:
        parse_world(policy, "policy.yaml")

    assert str(caught.value).startswith("policy.yaml:1: not a world file (it looks like a policy")


def test_an_unquoted_account_is_reported_on_its_own_line_not_where_the_number_first_appears() -> (
    None
):
    # Given the account's digits on line 13 (in an ARN), and the unquoted account on line 15
    text = _edit(
        "  services: [{name: svc, load_balancers: [nlb]}]",
        "  services:\n    - name: svc\n      load_balancers: [nlb]\n"
        '      allowed_principals: ["arn:aws:iam::111122223333:root"]',
    ).replace('account: "111122223333"\n    name', "account: 111122223333\n    name")
    lines = text.splitlines()
    assert "111122223333:root" in lines[13 - 1]
    assert lines[15 - 1].endswith("account: 111122223333")

    # When it is read
    with pytest.raises(WorldError) as caught:
        parse_world(text, "world.yaml")

    # Then the problem names line 15, in the words of policy errors
    assert str(caught.value) == (
        "world.yaml:15: accounts[0].account: 111122223333 was read by YAML as the number"
        ' 111122223333; quote it: "111122223333"'
    )


def test_world_errors_are_path_line_message_in_the_projects_words() -> None:
    text = _edit("    name: consumer", "    name: consumer\n    colour: blue")

    with pytest.raises(WorldError) as caught:
        parse_world(text, "world.yaml")

    assert str(caught.value) == (
        "world.yaml:14: accounts[0]: unknown key 'colour' (allowed here: account, name, email,"
        " ou, region, tags, vpcs)"
    )


def test_missing_world_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "absent.yaml")


def test_demo_world_file_is_valid(world_path: Path) -> None:
    world = load_world(world_path)
    accounts = {a.account for a in world.accounts}
    assert accounts == {PAYMENTS, ANALYTICS, SANDBOX, PARTNER}
    assert world.provider.account == PROVIDER
    assert {s.id for s in world.provider.services} == {
        ORDERS_SERVICE,
        REPORTS_SERVICE,
        STATUS_SERVICE,
    }


def test_demo_world_creates_accounts_vpcs_subnets_and_groups_with_their_tags(
    local_aws: LocalAws,
) -> None:
    payments = local_aws.world.vpc(PAYMENTS, "payments")
    ec2 = local_aws.client("ec2", PAYMENTS)

    (vpc,) = ec2.describe_vpcs(VpcIds=[payments.id])["Vpcs"]
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert tags == {"Name": "payments", "tier": "private", "env": "prod"}
    assert vpc["CidrBlock"] == "10.10.0.0/16"
    assert payments.ipv6_cidr is not None
    assert vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == payments.ipv6_cidr
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [payments.id]}])["Subnets"]
    assert sorted(s["CidrBlock"] for s in subnets) == ["10.10.1.0/24", "10.10.2.0/24"]
    groups = ec2.describe_security_groups(GroupIds=list(payments.security_groups.values()))
    assert {g["GroupName"] for g in groups["SecurityGroups"]} == {"orders-endpoint", "app"}
    assert local_aws.world.vpc(SANDBOX, "sandbox").ipv6_cidr is None


def test_demo_world_puts_the_analytics_vpc_in_its_own_region(local_aws: LocalAws) -> None:
    analytics = local_aws.world.vpc(ANALYTICS, "analytics")
    assert analytics.region == "us-west-2"
    found = local_aws.client("ec2", ANALYTICS, "us-west-2").describe_vpcs(VpcIds=[analytics.id])
    assert found["Vpcs"][0]["CidrBlock"] == "10.20.0.0/16"


def test_demo_world_load_balancers_with_and_without_security_groups(local_aws: LocalAws) -> None:
    services = local_aws.world.services
    described = local_aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    groups = {lb["LoadBalancerName"]: lb.get("SecurityGroups", []) for lb in described}
    orders_group = local_aws.world.vpc(PROVIDER, "provider").security_groups["orders-nlb"]

    assert groups["orders-nlb"] == [orders_group]
    assert groups["reports-nlb"] == []
    assert services["orders-api"].load_balancer_security_groups == [orders_group]
    rules = local_aws.client("ec2").describe_security_groups(GroupIds=[orders_group])
    permission = rules["SecurityGroups"][0]["IpPermissions"][0]
    assert (permission["FromPort"], permission["IpRanges"][0]["CidrIp"]) == (443, "10.0.0.0/16")


def test_demo_world_services_have_their_pinned_ids_acceptance_and_permissions(
    local_aws: LocalAws,
) -> None:
    ec2 = local_aws.client("ec2")
    configurations = {
        c["ServiceId"]: c
        for c in ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    }

    assert set(configurations) == {ORDERS_SERVICE, REPORTS_SERVICE, STATUS_SERVICE}
    assert configurations[ORDERS_SERVICE]["AcceptanceRequired"] is True
    assert configurations[STATUS_SERVICE]["AcceptanceRequired"] is False
    assert configurations[ORDERS_SERVICE]["ServiceName"] == (
        f"com.amazonaws.vpce.us-east-1.{ORDERS_SERVICE}"
    )
    principals = ec2.describe_vpc_endpoint_service_permissions(ServiceId=STATUS_SERVICE)
    assert sorted(p["Principal"] for p in principals["AllowedPrincipals"]) == [
        f"arn:aws:iam::{PAYMENTS}:root",
        f"arn:aws:iam::{ANALYTICS}:root",
    ]


def test_demo_world_topic_lets_vpce_publish_and_is_notified_for_two_services(
    local_aws: LocalAws,
) -> None:
    topic = local_aws.world.services["orders-api"].notify_topic_arn
    assert topic == f"arn:aws:sns:us-east-1:{PROVIDER}:privatelink-connections"
    policy = json.loads(
        local_aws.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    )
    assert policy["Statement"][0]["Principal"] == {"Service": "vpce.amazonaws.com"}
    notifications = local_aws.client("ec2").describe_vpc_endpoint_connection_notifications()
    assert sorted(n["ServiceId"] for n in notifications["ConnectionNotificationSet"]) == [
        ORDERS_SERVICE,
        REPORTS_SERVICE,
    ]


@pytest.mark.parametrize(
    ("account", "path"),
    [
        (PAYMENTS, ["r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"]),
        (ANALYTICS, ["r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"]),
        (SANDBOX, ["r-ab12", "ou-ab12-33333333"]),
        (PROVIDER, ["r-ab12"]),
    ],
)
def test_demo_organization_places_each_account_under_its_pinned_units(
    local_aws: LocalAws, account: str, path: list[str]
) -> None:
    orgs = local_aws.client("organizations")
    walked: list[str] = []
    child = account
    for _ in range(10):  # bounded walk up to the root
        (parent,) = orgs.list_parents(ChildId=child)["Parents"]
        walked.insert(0, parent["Id"])
        if parent["Type"] == "ROOT":
            break
        child = parent["Id"]

    assert walked == path
    info = local_aws.world.accounts[account]
    assert list(info.ou_ids or ()) == path


def test_demo_organization_names_accounts_and_does_not_know_the_partner(
    local_aws: LocalAws,
) -> None:
    orgs = local_aws.client("organizations")
    names = {a["Id"]: a["Name"] for a in orgs.list_accounts()["Accounts"]}
    assert names == {
        PROVIDER: "platform-provider",
        PAYMENTS: "payments-prod",
        ANALYTICS: "analytics-prod",
        SANDBOX: "sandbox-dev",
    }
    with pytest.raises(ClientError) as caught:
        orgs.describe_account(AccountId=PARTNER)
    assert caught.value.response["Error"]["Code"] == "AccountNotFoundException"
    assert local_aws.world.accounts[PARTNER].ou_path is None
    assert local_aws.world.unit_ids["workloads/dev"] == "ou-ab12-44444444"


def _ids(aws: LocalAws) -> dict[str, Any]:
    world = aws.world
    return {
        "vpcs": {a: {n: v.id for n, v in info.vpcs.items()} for a, info in world.accounts.items()},
        "groups": world.vpc(PROVIDER, "provider").security_groups,
        "endpoints": {e.name: e.id for e in aws.create_endpoints()},
    }


def test_world_ids_repeat_from_one_start_to_the_next(
    clean_aws_environment: None, world_path: Path
) -> None:
    with LocalAws(world_path) as first:
        ids = _ids(first)
    with LocalAws(world_path) as second:
        assert _ids(second) == ids


def test_adding_an_account_does_not_change_the_ids_of_the_others(
    clean_aws_environment: None, world_path: Path
) -> None:
    data = yaml.safe_load(world_path.read_text())
    data["accounts"].insert(
        0,
        {
            "account": "555566667777",
            "name": "newcomer",
            "vpcs": [
                {
                    "name": "n",
                    "cidr": "10.99.0.0/16",
                    "subnets": [{"name": "a", "cidr": "10.99.1.0/24"}],
                }
            ],
        },
    )
    with LocalAws(world_path) as original:
        ids = _ids(original)
    with LocalAws(parse_world(yaml.safe_dump(data))) as grown:
        grown_ids = _ids(grown)

    del grown_ids["vpcs"]["555566667777"]
    assert grown_ids == ids


PINNED = (
    _edit("    - name: c\n", "    - name: c\n        id: vpc-0c0ffee0c0ffee012\n")
    .replace("load_balancers: [nlb]}]", "load_balancers: [nlb], notify_topic: connections}]")
    .replace(
        "subnets: [{name: a, cidr: 10.1.1.0/24}]",
        "subnets: [{name: a, cidr: 10.1.1.0/24}]\n"
        "        security_groups: [{name: g, id: sg-0decaf0decaf00123}]",
    )
    .replace(
        "{name: e, account", "{name: e, id: vpce-0feed0feed0feed01, security_groups: [g], account"
    )
)


def test_pinned_vpc_group_and_endpoint_ids_are_what_aws_reports(
    clean_aws_environment: None,
) -> None:
    with LocalAws(parse_world(PINNED)) as aws:
        (endpoint,) = aws.create_endpoints()
        ec2 = aws.client("ec2", account="111122223333")
        (found,) = ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-0feed0feed0feed01"])[
            "VpcEndpoints"
        ]
        connections = aws.client("ec2").describe_vpc_endpoint_connections()
        (delivery,) = aws.deliveries

    assert endpoint.id == "vpce-0feed0feed0feed01"
    assert endpoint.vpc_id == found["VpcId"] == "vpc-0c0ffee0c0ffee012"
    assert [g["GroupId"] for g in found["Groups"]] == ["sg-0decaf0decaf00123"]
    assert [c["VpcEndpointId"] for c in connections["VpcEndpointConnections"]] == [endpoint.id]
    assert "vpce-0feed0feed0feed01" in delivery.message


def test_pinning_some_ids_leaves_the_generated_ones_unchanged(
    clean_aws_environment: None,
) -> None:
    with LocalAws(parse_world(MINIMAL)) as plain:
        plain_vpc = plain.world.vpc("111122223333", "c")
        plain_default = plain_vpc.default_security_group
        plain_subnets = dict(plain_vpc.subnets)
    with LocalAws(parse_world(PINNED)) as pinned:
        pinned_vpc = pinned.world.vpc("111122223333", "c")

    assert pinned_vpc.default_security_group == plain_default
    assert pinned_vpc.subnets == plain_subnets
