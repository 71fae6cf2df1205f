"""Least privilege in template.yaml: writes on endpoint services only where they are tagged for
the acceptor, and no per-service resource."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import cfnlint
import pytest
from sam_template import (
    TEMPLATE,
    actions,
    functions,
    load,
    resources,
    statements,
)

from helpers.aws import is_mutating_ec2

pytestmark = pytest.mark.disable_socket

DECIDE_ACTIONS = {"ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"}
NOTIFICATION_WRITES = {
    "ec2:CreateVpcEndpointConnectionNotification",
    "ec2:ModifyVpcEndpointConnectionNotification",
    "ec2:DeleteVpcEndpointConnectionNotifications",
}
ANY_SERVICE = {
    "Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-endpoint-service/*"
}
TAG_KEY = "aws:ResourceTag/privatelink-acceptor:managed"
TAGGED = {"StringEquals": {TAG_KEY: "true"}}
STILL_CARRYING_THE_TAG = {"Null": {TAG_KEY: "false"}}
POLICY_DATA = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


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
        if is_mutating_ec2(action)
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


def _grants(template: dict[str, Any], wanted: set[str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (function, statement)
        for function in functions(template)
        for statement in statements(template, function)
        if wanted & set(actions(statement))
    ]


def test_accept_and_reject_are_granted_only_on_services_tagged_managed(
    template: dict[str, Any],
) -> None:
    ((function, grant),) = _grants(template, DECIDE_ACTIONS)

    assert function == "DecideFunction"
    assert set(actions(grant)) == DECIDE_ACTIONS
    assert grant["Resource"] == ANY_SERVICE
    assert grant["Condition"] == TAGGED


def test_notification_writes_are_reconciles_and_scoped_by_the_managed_tag(
    template: dict[str, Any],
) -> None:
    grants = _grants(template, NOTIFICATION_WRITES)

    assert {function for function, _ in grants} == {"ReconcileFunction"}
    assert {a for _, g in grants for a in actions(g)} == NOTIFICATION_WRITES
    for _, grant in grants:
        assert grant["Resource"] == ANY_SERVICE
        # Create and modify only on tagged services; delete also once the tag says "false",
        # so that a service leaving the set loses the acceptor's notification.
        expected = (
            STILL_CARRYING_THE_TAG
            if actions(grant) == ["ec2:DeleteVpcEndpointConnectionNotifications"]
            else TAGGED
        )
        assert grant["Condition"] == expected


def test_nothing_mutating_on_every_endpoint_service_without_a_condition(
    template: dict[str, Any],
) -> None:
    loose = [
        (function, action)
        for function in functions(template)
        for statement in statements(template, function)
        if "Condition" not in statement
        and any("vpc-endpoint-service/*" in str(r) for r in _listed(statement["Resource"]))
        for action in actions(statement)
        if is_mutating_ec2(action)
    ]

    assert loose == []


def _listed(resource: Any) -> list[Any]:
    return resource if isinstance(resource, list) else [resource]


def test_actions_resource_types_and_condition_keys_exist_in_cfn_lint_policy_data(
    template: dict[str, Any],
) -> None:
    """The grants conditioned on the managed tag name real actions, acting on the resource type
    vpc-endpoint-service, which has the condition key aws:ResourceTag/${TagKey}."""
    ec2 = json.loads(POLICY_DATA.read_text(encoding="utf-8"))["ec2"]
    service_type = ec2["Resources"]["vpc-endpoint-service"]
    conditioned = [
        action.removeprefix("ec2:").lower()
        for _, grant in _grants(template, DECIDE_ACTIONS | NOTIFICATION_WRITES)
        for action in actions(grant)
    ]

    assert len(conditioned) == 5
    for action in conditioned:
        assert "vpc-endpoint-service" in ec2["Actions"][action]["Resources"], action
    assert "aws:ResourceTag/${TagKey}" in service_type["ConditionKeys"]
    assert service_type["ARNFormats"] == [
        "arn:${Partition}:ec2:${Region}:${Account}:vpc-endpoint-service/.*"
    ]


def test_the_template_holds_no_per_service_resource(template: dict[str, Any]) -> None:
    for kind in (
        "AWS::EC2::VPCEndpointConnectionNotification",
        "AWS::CloudFormation::WaitCondition",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::IAM::ManagedPolicy",
    ):
        assert resources(template, kind) == {}, kind
    assert not [name for name in template.get("Conditions", {}) if "Service" in name]
    # The filter reaches the functions as a variable (MANAGED_SERVICE_IDS) and nothing else.
    without_variables = {
        name: {
            **resource,
            "Properties": {
                key: value
                for key, value in resource.get("Properties", {}).items()
                if key != "Environment"
            },
        }
        for name, resource in template["Resources"].items()
    }
    assert "ManagedServiceIds" not in json.dumps(without_variables)


def test_put_events_is_granted_on_the_bus_only(template: dict[str, Any]) -> None:
    grants = [
        statement["Resource"]
        for function in functions(template)
        for statement in statements(template, function)
        if "events:PutEvents" in actions(statement)
    ]

    assert grants
    assert all(resource == {"Fn::GetAtt": ["EventBus", "Arn"]} for resource in grants)


def test_only_the_approval_functions_write_approvals_and_readers_only_get_them(
    template: dict[str, Any],
) -> None:
    """An approval record opens security groups (docs/security-groups.md): only the functions
    that authenticate the approver may write one (the URL's IAM caller, Slack's signed user, and
    Notify for a console accept, whose identity CloudTrail recorded); Decide and SecurityGroups
    only read it."""
    table = {"Fn::GetAtt": ["ApprovalTable", "Arn"]}
    on_table = {
        function: sorted(
            a for s in statements(template, function) if s["Resource"] == table for a in actions(s)
        )
        for function in functions(template)
    }
    on_table = {function: granted for function, granted in on_table.items() if granted}

    assert set(on_table) == {
        "ApprovalFunction",
        "SlackInteractionFunction",
        "NotifyFunction",
        "DecideFunction",
        "SecurityGroupsFunction",
    }
    assert on_table["DecideFunction"] == ["dynamodb:GetItem"]
    assert on_table["SecurityGroupsFunction"] == ["dynamodb:GetItem"]


def test_assume_role_is_granted_only_when_a_role_is_configured(template: dict[str, Any]) -> None:
    for function in functions(template):
        for policy in template["Resources"][function]["Properties"].get("Policies", []):
            for item in policy.get("Statement", []):
                if "Fn::If" in item:
                    continue
                assert "sts:AssumeRole" not in actions(item), f"{function}: {item}"


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


def _transformed() -> dict[str, Any]:
    """template.yaml after the SAM transform: the roles SAM generates, with what it attaches."""
    # The replay's own steps (read, placeholders for CodeUri, samtranslator), as sam deploy.
    from acceptor_tools.replay import template as replay_template

    raw = replay_template._read_template(TEMPLATE)
    parameters = replay_template.parameter_values(
        raw, {"ManagedServiceIds": ["vpce-svc-0123456789abcdef0"]}
    )
    sam = copy.deepcopy(raw)
    replay_template._take_code_dirs(sam, TEMPLATE.parent)
    return replay_template._transform(sam, parameters, "us-east-1")


def test_no_function_role_gets_an_aws_managed_policy_on_every_queue() -> None:
    roles = resources(_transformed(), "AWS::IAM::Role")

    attached = {
        (logical_id, str(arn))
        for logical_id, role in roles.items()
        for arn in role["Properties"].get("ManagedPolicyArns", [])
        if "SQS" in str(arn) or "Poller" in str(arn)
    }
    assert attached == set()


def test_decide_may_read_and_delete_messages_of_its_own_queue_only(
    template: dict[str, Any],
) -> None:
    sqs = [
        statement
        for statement in statements(template, "DecideFunction")
        if any(action.startswith("sqs:") for action in actions(statement))
    ]

    (statement,) = sqs
    assert statement["Resource"] == {"Fn::GetAtt": ["DecideQueue", "Arn"]}
    assert set(actions(statement)) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }


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
