"""One test per moto internal the extension relies on (see moto_internals.py).

When moto is upgraded, these fail first and say which assumption broke; the extension's own
tests then say what that changed for the local AWS.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest

from acceptor_tools.local_aws import LocalAws, api
from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.extension import PATCH_MARK, install, is_installed

pytestmark = pytest.mark.disable_socket

ACCOUNT = "210987654321"
REGION = "us-east-1"


@pytest.fixture
def bare_aws(clean_aws_environment: None) -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_moto_version_is_the_one_the_extension_was_written_for() -> None:
    assert moto.moto_version() == moto.MOTO_VERSION


def test_install_is_idempotent_and_marks_every_patch() -> None:
    install()
    install()
    assert is_installed()
    response_class = moto.ec2_response_class()
    for name in api.ACTIONS:
        assert getattr(getattr(response_class, name), PATCH_MARK)
    for owner, name in [
        (response_class, "create_vpc_endpoint"),
        (moto.vpc_backend_class(), "create_vpc_endpoint"),
        (moto.vpc_backend_class(), "delete_vpc_endpoints"),
        (moto.base_response_class(), "call_action"),
        (moto.sns_subscription_class(), "publish"),
    ]:
        assert getattr(getattr(owner, name), PATCH_MARK)
        assert getattr(owner, name).__wrapped__ is not None


def test_moto_itself_implements_none_of_the_added_actions() -> None:
    for name in api.ACTIONS:
        implementations = [
            klass
            for klass in moto.ec2_response_class().__mro__
            if name in vars(klass) and not getattr(vars(klass)[name], PATCH_MARK, False)
        ]
        assert implementations == [], f"moto now implements {name}"


def test_ec2_backend_inherits_the_patched_endpoint_methods_from_vpc_backend() -> None:
    from moto.ec2.models import EC2Backend

    for name in ("create_vpc_endpoint", "delete_vpc_endpoints"):
        assert name not in vars(EC2Backend)
        assert getattr(EC2Backend, name) is getattr(moto.vpc_backend_class(), name)


def test_endpoint_methods_keep_the_parameter_names_the_wrappers_bind() -> None:
    backend = moto.vpc_backend_class()
    create = _parameters(backend.create_vpc_endpoint.__wrapped__)
    assert {"vpc_id", "service_name", "endpoint_type", "security_group_ids"} <= set(create)
    assert _parameters(backend.delete_vpc_endpoints.__wrapped__) == ["self", "vpce_ids"]
    assert _parameters(moto.base_response_class().call_action.__wrapped__) == ["self"]
    assert _parameters(moto.ec2_response_class().create_vpc_endpoint.__wrapped__) == ["self"]


def test_response_helpers_the_actions_use_exist() -> None:
    response_class = moto.ec2_response_class()
    for name in (
        "_get_param",
        "_get_int_param",
        "_filters_from_querystring",
        "error_on_dryrun",
        "serialized",
        "_get_action",
    ):
        assert callable(getattr(response_class, name)), name
    assert isinstance(inspect.getattr_static(response_class, "ec2_backend"), property)


def test_action_result_keeps_the_result_it_wraps() -> None:
    assert moto.action_result({"A": 1}).result == {"A": 1}


def test_moto_objects_carry_the_attributes_connections_read(bare_aws: LocalAws) -> None:
    ec2 = bare_aws.client("ec2", ACCOUNT, REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    balancer = bare_aws.client("elbv2", ACCOUNT, REGION).create_load_balancer(
        Name="nlb", Subnets=[subnet], Type="network", Scheme="internal"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[balancer], AcceptanceRequired=True, SupportedRegions=["us-west-2"]
    )["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"], AddAllowedPrincipals=["*"]
    )
    backend = moto.ec2_backend(ACCOUNT, REGION)
    config = backend.configurations[service["ServiceId"]]
    assert config.id == service["ServiceId"]
    assert config.service_name == service["ServiceName"]
    assert config.acceptance_required is True
    assert config.principals == ["*"]
    assert config.network_load_balancer_arns == [balancer]
    assert config.gateway_load_balancer_arns == []
    assert moto.service_supported_regions(config) == ["us-west-2"]
    assert moto.default_security_group_id(backend, vpc).startswith("sg-")

    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=vpc,
        ServiceName=service["ServiceName"],
        SubnetIds=[subnet],
    )["VpcEndpoint"]
    record = backend.vpc_end_points[endpoint["VpcEndpointId"]]
    assert record.id == endpoint["VpcEndpointId"]
    assert record.state == endpoint["State"]
    assert record.creation_timestamp is not None
    assert set(record.dns_entries[0]) == {"dns_name", "hosted_zone_id"}


def test_existing_ec2_backends_lists_without_creating(bare_aws: LocalAws) -> None:
    bare_aws.client("ec2", ACCOUNT, REGION).describe_vpcs()
    listed = {(account, region) for account, region, _ in moto.existing_ec2_backends()}
    assert (ACCOUNT, REGION) in listed
    assert (ACCOUNT, "eu-west-3") not in listed
    again = {(account, region) for account, region, _ in moto.existing_ec2_backends()}
    assert again == listed


def test_endpoint_service_id_can_be_pinned_with_its_tags(bare_aws: LocalAws) -> None:
    ec2 = bare_aws.client("ec2", ACCOUNT, REGION)
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    balancer = bare_aws.client("elbv2", ACCOUNT, REGION).create_load_balancer(
        Name="nlb", Subnets=[subnet], Type="network"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    created = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[balancer],
        TagSpecifications=[
            {"ResourceType": "vpc-endpoint-service", "Tags": [{"Key": "app", "Value": "x"}]}
        ],
    )["ServiceConfiguration"]
    moto.pin_endpoint_service_id(
        ACCOUNT, REGION, created["ServiceId"], "vpce-svc-0123456789abcdef0"
    )

    (found,) = ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    assert found["ServiceId"] == "vpce-svc-0123456789abcdef0"
    assert found["ServiceName"] == "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
    assert found["Tags"] == [{"Key": "app", "Value": "x"}]


@pytest.mark.parametrize("kind", sorted(moto.PINNABLE_IDS))
def test_each_pinnable_id_is_drawn_from_the_generator_the_pin_replaces(kind: str) -> None:
    module_name, attribute = moto.PINNABLE_IDS[kind]
    module = importlib.import_module(module_name)

    prefixes = {"vpc": "vpc-", "vpc-endpoint": "vpce-", "security-group": "sg-"}
    assert getattr(module, attribute)().startswith(prefixes[kind])


def test_pinned_ids_are_used_for_the_next_creation_only(bare_aws: LocalAws) -> None:
    ec2 = bare_aws.client("ec2", ACCOUNT, REGION)
    ec2.describe_vpcs()  # the region's default VPC is made on first use: not the pinned one
    with moto.pinned_id("vpc", "vpc-0123456789abcdef0"):
        vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    with moto.pinned_id("security-group", "sg-0123456789abcdef0"):
        group = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="h", Description="d", VpcId=vpc)["GroupId"]

    assert vpc == "vpc-0123456789abcdef0"
    assert group == "sg-0123456789abcdef0"
    assert other not in (group, vpc)
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.5.0.0/16"


def test_a_pin_that_nothing_used_is_an_error(bare_aws: LocalAws) -> None:
    with (
        pytest.raises(RuntimeError, match="created no vpc-endpoint"),
        moto.pinned_id("vpc-endpoint", "vpce-0123456789abcdef0"),
    ):
        pass


def test_organization_ids_can_be_pinned_before_children_exist(bare_aws: LocalAws) -> None:
    orgs = bare_aws.client("organizations", ACCOUNT, REGION)
    orgs.create_organization(FeatureSet="ALL")
    moto.pin_organization_root_id(ACCOUNT, "r-zz99")
    unit = orgs.create_organizational_unit(ParentId="r-zz99", Name="prod")["OrganizationalUnit"]
    moto.pin_organizational_unit_id(ACCOUNT, unit["Id"], "ou-zz99-12345678")
    status = orgs.create_account(Email="a@example.com", AccountName="member")["CreateAccountStatus"]
    moto.pin_account_id(ACCOUNT, status["AccountId"], "123412341234")
    moto.set_account_name(ACCOUNT, ACCOUNT, "management")
    orgs.move_account(
        AccountId="123412341234", SourceParentId="r-zz99", DestinationParentId="ou-zz99-12345678"
    )

    assert orgs.list_roots()["Roots"][0]["Id"] == "r-zz99"
    assert orgs.list_parents(ChildId="123412341234")["Parents"] == [
        {"Id": "ou-zz99-12345678", "Type": "ORGANIZATIONAL_UNIT"}
    ]
    assert orgs.list_parents(ChildId="ou-zz99-12345678")["Parents"][0]["Id"] == "r-zz99"
    assert orgs.describe_account(AccountId="123412341234")["Account"]["Name"] == "member"
    assert orgs.describe_account(AccountId=ACCOUNT)["Account"]["Name"] == "management"
    assert moto.organization_member_accounts()["123412341234"] == (ACCOUNT, "aws")
    with pytest.raises(ValueError, match="already has children"):
        moto.pin_organizational_unit_id(ACCOUNT, "r-zz99", "ou-zz99-87654321")


def test_reset_forgets_organization_members_that_moto_keeps(bare_aws: LocalAws) -> None:
    orgs = bare_aws.client("organizations", ACCOUNT, REGION)
    orgs.create_organization(FeatureSet="ALL")
    orgs.create_account(Email="a@example.com", AccountName="member")
    assert moto.organization_member_accounts()
    moto.reset_all_backends()
    assert moto.organization_member_accounts() == {}


def test_seeding_makes_generated_ids_repeatable() -> None:
    moto.seed_random(7)
    first = moto.random_hex(17)
    moto.seed_random(7)
    assert moto.random_hex(17) == first
    assert len(first) == 17


def test_sns_subscriptions_deliver_through_publish_and_fail_with_the_named_errors(
    bare_aws: LocalAws,
) -> None:
    # The extension catches delivery_errors() around Subscription.publish: that method must
    # still be where moto delivers, and a missing queue must raise one of those errors.
    from moto.sns.models import sns_backends

    sns = bare_aws.client("sns", ACCOUNT, REGION)
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:absent")
    (subscription,) = sns_backends[ACCOUNT][REGION].list_subscriptions_by_topic(topic)[0]
    original = moto.sns_subscription_class().publish.__wrapped__

    with pytest.raises(moto.delivery_errors()):
        original(subscription, "hello", "message-id")


def test_sns_publish_reaches_a_subscribed_queue(bare_aws: LocalAws) -> None:
    sns = bare_aws.client("sns", ACCOUNT, REGION)
    sqs = bare_aws.client("sqs", ACCOUNT, REGION)
    topic = sns.create_topic(Name="t")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    assert moto.sns_topic_exists(topic)
    assert not moto.sns_topic_exists(topic + "-gone")
    message_id = moto.sns_publish(topic, "hello")

    (received,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    envelope = json.loads(received["Body"])
    assert (envelope["Message"], envelope["MessageId"]) == ("hello", message_id)


def test_errors_carry_the_codes_aws_uses() -> None:
    cases = [
        (moto.invalid_service_name("x"), "InvalidServiceName"),
        (moto.unknown_endpoint_service("vpce-svc-1"), "InvalidVpcEndpointServiceId.NotFound"),
        (moto.unknown_endpoint("vpce-1"), "InvalidVpcEndpointId.NotFound"),
        (moto.unknown_vpc("vpc-1"), "InvalidVpcID.NotFound"),
        (moto.invalid_next_token("t"), "InvalidNextToken"),
        (moto.service_error("Code", "message"), "Code"),
        (moto.generic_service_exception("Throttling", "slow down"), "Throttling"),
    ]
    for error, code in cases:
        assert getattr(error, "code", None) == code


def test_server_pieces_exist() -> None:
    assert callable(moto.wsgi_application())
    assert hasattr(moto.wsgi_request_handler(), "log_request")


def test_mock_leaves_environment_credentials_alone(
    clean_aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    with moto.mock_aws_context():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "mine"


def test_assumed_role_credentials_finds_what_sts_issued_and_nothing_else(
    bare_aws: LocalAws,
) -> None:
    issued = bare_aws.credentials(ACCOUNT)

    found = moto.assumed_role_credentials(issued["AccessKeyId"])

    assert found is not None
    assert found["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/")
    assert found["account"] == ACCOUNT
    assert (found["secret_access_key"], found["session_token"]) == (
        issued["SecretAccessKey"],
        issued["SessionToken"],
    )
    assert moto.assumed_role_credentials("ASIANEVERISSUED00000") is None
