"""Least privilege in template.yaml, and the per-service slots that scope it."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
from sam_template import actions, functions, load, resources, stack_resolver, statements

from acceptor_tools.replay.intrinsics import Resolver

pytestmark = pytest.mark.disable_socket

SLOTS = 20
# EC2 writes: accepting/rejecting connections, security-group changes, creating, deleting,
# modifying anything. None of them may be granted on "*".
MUTATING_EC2 = (
    "ec2:Accept*",
    "ec2:Reject*",
    "ec2:Create*",
    "ec2:Delete*",
    "ec2:Modify*",
    "ec2:Authorize*",
    "ec2:Revoke*",
    "ec2:*SecurityGroup*",
)
DECIDE_ACTIONS = {"ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"}
SERVICE_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:ec2:\$\{AWS::Region\}:\$\{AWS::AccountId\}"
    r":vpc-endpoint-service/\$\{Id\}$"
)


def _service_ids(count: int) -> list[str]:
    return [f"vpce-svc-{index:017x}" for index in range(1, count + 1)]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def _is_mutating_ec2(action: str) -> bool:
    if action in {"*", "ec2:*"}:
        return True
    if action.startswith("ec2:Describe") or action.startswith("ec2:Get"):
        return False
    return any(fnmatchcase(action, pattern) for pattern in MUTATING_EC2)


def _on_everything(statement: dict[str, Any]) -> bool:
    resource = statement["Resource"]
    return "*" in (resource if isinstance(resource, list) else [resource])


def test_no_function_may_change_ec2_on_every_resource(template: dict[str, Any]) -> None:
    granted = [
        (function, action)
        for function in functions(template)
        for statement in statements(template, function)
        if _on_everything(statement)
        for action in actions(statement)
        if _is_mutating_ec2(action)
    ]

    assert granted == []


def test_no_action_wildcards_anywhere_in_a_function_role(template: dict[str, Any]) -> None:
    wildcards = [
        (function, action)
        for function in functions(template)
        for statement in statements(template, function)
        for action in actions(statement)
        if "*" in action
    ]

    assert wildcards == []


def test_only_decide_may_accept_or_reject(template: dict[str, Any]) -> None:
    deciders = {
        function
        for function in functions(template)
        for statement in statements(template, function)
        if DECIDE_ACTIONS & set(actions(statement))
    }

    assert deciders == {"DecideFunction"}


def test_accept_and_reject_are_scoped_to_endpoint_service_arns(template: dict[str, Any]) -> None:
    (grant,) = [
        s for s in statements(template, "DecideFunction") if DECIDE_ACTIONS & set(actions(s))
    ]

    assert set(actions(grant)) == DECIDE_ACTIONS
    for item in grant["Resource"]:
        _slot, arn, no_value = item["Fn::If"]
        template_string, _ = arn["Fn::Sub"]
        assert SERVICE_ARN.match(template_string), template_string
        assert no_value == {"Ref": "AWS::NoValue"}


def test_put_events_is_granted_on_the_bus_only(template: dict[str, Any]) -> None:
    grants = [
        statement["Resource"]
        for function in functions(template)
        for statement in statements(template, function)
        if "events:PutEvents" in actions(statement)
    ]

    assert grants
    assert all(resource == {"Fn::GetAtt": ["EventBus", "Arn"]} for resource in grants)


def test_assume_role_is_granted_only_when_a_role_is_configured(template: dict[str, Any]) -> None:
    for function in functions(template):
        for policy in template["Resources"][function]["Properties"].get("Policies", []):
            for item in policy.get("Statement", []):
                if "Fn::If" in item:
                    continue
                assert "sts:AssumeRole" not in actions(item), f"{function}: {item}"


def _granted_resources(stack: Resolver, template: dict[str, Any], action: str) -> list[str]:
    managed = template["Resources"]["DecideServicesPolicy"]["Properties"]["PolicyDocument"]
    return [
        resource
        for statement in stack.resolve(managed)["Statement"]
        if action in actions(statement)
        for resource in statement["Resource"]
    ]


def _notified_services(stack: Resolver, template: dict[str, Any]) -> list[str]:
    return [
        stack.resolve(body["Properties"]["ServiceId"])
        for name, body in resources(template, "AWS::EC2::VPCEndpointConnectionNotification").items()
        if stack.exists(name)
    ]


@pytest.mark.parametrize("count", [1, 3, SLOTS])
def test_each_managed_service_gets_one_notification_and_its_own_grant(
    template: dict[str, Any], count: int
) -> None:
    services = _service_ids(count)
    stack = stack_resolver(template, {"ManagedServiceIds": ",".join(services)})

    assert _notified_services(stack, template) == services
    assert _granted_resources(stack, template, "ec2:AcceptVpcEndpointConnections") == [
        f"arn:aws:ec2:eu-west-1:123456789012:vpc-endpoint-service/{service}" for service in services
    ]
    assert not stack.condition("MoreThanTwentyServices")


def test_more_services_than_slots_fails_the_deploy(template: dict[str, Any]) -> None:
    stack = stack_resolver(template, {"ManagedServiceIds": ",".join(_service_ids(SLOTS + 1))})

    assert stack.condition("MoreThanTwentyServices")
    assert stack.exists("ManagedServiceIdsHoldsMoreThanTwentyServicesFailsTheDeploy")
    wait = template["Resources"]["ManagedServiceIdsHoldsMoreThanTwentyServicesFailsTheDeploy"]
    assert wait["Type"] == "AWS::CloudFormation::WaitCondition"


def test_notifications_cover_every_connection_event(template: dict[str, Any]) -> None:
    notifications = resources(template, "AWS::EC2::VPCEndpointConnectionNotification").values()

    assert len(notifications) == SLOTS
    for notification in notifications:
        properties = notification["Properties"]
        assert sorted(properties["ConnectionEvents"]) == ["Accept", "Connect", "Delete", "Reject"]
        assert properties["ConnectionNotificationArn"] == {"Ref": "ConnectionNotificationTopic"}


def test_only_privatelink_of_this_account_may_publish_connection_notifications(
    template: dict[str, Any],
) -> None:
    policy = template["Resources"]["ConnectionNotificationTopicPolicy"]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]

    assert statement["Principal"] == {"Service": "vpce.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    assert "vpc-endpoint-service/" in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]


def test_the_encrypted_topics_key_lets_privatelink_and_cloudwatch_publish(
    template: dict[str, Any],
) -> None:
    key = template["Resources"]["TopicKey"]["Properties"]["KeyPolicy"]
    services = {
        service
        for statement in key["Statement"]
        if "Service" in statement["Principal"]
        for service in statement["Principal"]["Service"]
    }

    assert {"vpce.amazonaws.com", "cloudwatch.amazonaws.com"} <= services
    for topic in ("ConnectionNotificationTopic", "AlarmTopic"):
        assert template["Resources"][topic]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}


def _security_group_writes(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for function in functions(template)
        for statement in statements(template, function)
        if {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"}
        & set(actions(statement))
    ]


def test_only_security_groups_writes_ingress_and_only_on_groups_tagged_for_the_acceptor(
    template: dict[str, Any],
) -> None:
    writers = {
        function
        for function in functions(template)
        for statement in statements(template, function)
        if statement in _security_group_writes(template)
    }
    on_groups = [
        s
        for s in _security_group_writes(template)
        if ":security-group/" in s["Resource"]["Fn::Sub"]
    ]

    assert writers == {"SecurityGroupsFunction"}
    assert on_groups
    for statement in on_groups:
        assert statement["Condition"] == {
            "StringEquals": {"aws:ResourceTag/privatelink-acceptor:managed": "true"}
        }
    for statement in _security_group_writes(template):
        resource = statement["Resource"]["Fn::Sub"]
        assert resource.startswith("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:")


def test_rule_tags_are_granted_only_while_a_rule_is_created(template: dict[str, Any]) -> None:
    (tagging,) = [
        s for s in statements(template, "SecurityGroupsFunction") if "ec2:CreateTags" in actions(s)
    ]

    assert tagging["Resource"]["Fn::Sub"].endswith(":security-group-rule/*")
    assert tagging["Condition"] == {
        "StringEquals": {"ec2:CreateAction": "AuthorizeSecurityGroupIngress"}
    }


def test_notify_reads_only_the_webhook_secrets_under_its_prefix(template: dict[str, Any]) -> None:
    grants = {
        action: statement["Resource"]["Fn::Sub"]
        for statement in statements(template, "NotifyFunction")
        for action in actions(statement)
        if action in ("secretsmanager:GetSecretValue", "ssm:GetParameter")
    }

    assert grants["secretsmanager:GetSecretValue"].endswith(":secret:${NotificationSecretPrefix}*")
    assert grants["ssm:GetParameter"].endswith(":parameter/${NotificationSecretPrefix}*")


def test_kms_is_granted_only_through_the_services_that_need_it(template: dict[str, Any]) -> None:
    kms = [
        statement
        for function in functions(template)
        for statement in statements(template, function)
        if any(action.startswith("kms:") for action in actions(statement))
    ]

    assert kms
    for statement in kms:
        assert "kms:ViaService" in statement["Condition"]["StringEquals"]


def test_only_the_stacks_roles_that_put_events_may_put_acceptor_events(
    template: dict[str, Any],
) -> None:
    # Given the roles that are granted events:PutEvents on the bus (SAM names a function's
    # role <function>Role)
    putting = {
        f"{function}Role"
        for function in functions(template)
        for statement in statements(template, function)
        if "events:PutEvents" in actions(statement)
    }
    (policy,) = resources(template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]

    # Then the bus denies privatelink-acceptor events to every other principal
    assert policy["Properties"]["EventBusName"] == {"Ref": "EventBus"}
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert statement["Condition"]["StringEquals"] == {"events:source": "privatelink-acceptor"}
    allowed = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert {ref["Fn::GetAtt"][0] for ref in allowed} == putting
    assert all(ref["Fn::GetAtt"][1] == "Arn" for ref in allowed)
