"""Every AWS call a function makes with its own role is granted to that role in template.yaml,
on the resource it needs and no wider; nothing mutating in EC2 is granted on `*`.

The calls are recorded, not guessed: the handlers run against the local AWS through
every path that reaches AWS (notifications, a sweep with and without managed services, decisions
that accept, reject and hold, a revocation reported then enforced, a throttled accept that
releases its claims, Organizations read directly and through a role; security groups opened on
accept and closed when the consumer deletes its endpoint; a held request approved through the
IAM URL and clicked in Slack; every decision, state change and
security-group warning notified on Slack, Teams and SNS, manual overrides from CloudTrail, and
the daily digest of held requests),
and each call's IAM action and targets are checked against the statements of the function's role.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acceptor.aws.clients import use_clients
from acceptor.flows import wiring
from acceptor.managed import MANAGED_TAG, MANAGED_VALUE
from acceptor.policy.loader import cached_policy
from acceptor_tools.local_aws import FaultRule, LocalAws
from acceptor_tools.local_aws.world import load_world
from helpers.aws import is_mutating_ec2
from integration.handlers.handlers_stack import (
    APPROVAL_TABLE,
    CONSUMER_ROLE,
    DECISION_TABLE,
    IDEMPOTENCY_TABLE,
    RULE_TABLE,
    Call,
    Stack,
)
from integration.handlers.url_events import (
    NETWORK_ADMINS,
    SLACK_SECRET,
    approval_event,
    slack_event,
)
from integration.iam_grants import statements_of
from integration.notify.notify_world import CaptureServer, serving_capture

# cfn-lint's CloudFormation-aware YAML reader (`!Ref` and friends); cfn-lint ships no types.
decode: Any = importlib.import_module("cfnlint.decode").decode

REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE = REPOSITORY / "template.yaml"
ORGANIZATIONS_ROLE = "arn:aws:iam::999988887777:role/OrganizationsRead"
FUNCTIONS = (
    "IngestFunction",
    "ReconcileFunction",
    "DecideFunction",
    "SecurityGroupsFunction",
    "NotifyFunction",
    "ApprovalFunction",
    "SlackInteractionFunction",
)
# template.yaml's NotificationSecretPrefix default: where webhook URLs may be read.
SECRET_PREFIX = "privatelink-acceptor/"
EVENTS = REPOSITORY / "events"

# `{nlb_group}`: the provider group of the world's orders NLB.
POLICY = """\
version: 1
services: ["*"]
default: hold
revoke: true
notify: [ops, people]
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333", "222233334444"], tags: {env: prod}}
    security_groups:
      consumer_endpoint: {ports: [443]}
      provider: {group: {nlb_group}, ports: [443]}
    notify: [payments-team]
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
approval:
  approvers: ["{approver}", "slack:U0123ABCD"]
notifications:
  ops:
    type: slack
    webhook_secret: privatelink-acceptor/slack-ops
    signing_secret: privatelink-acceptor/slack-signing
  payments-team: {type: teams, webhook_parameter: /privatelink-acceptor/teams-payments}
  people: {type: sns}
""".replace("{approver}", NETWORK_ADMINS)

# Describes need `*`; a call that names a resource must be granted on that resource, and no
# statement on `*` counts for it. Patterns are over the rendered template (see `render`).
TARGETS: dict[str, tuple[str, ...]] = {
    "ec2:Describe*": ("*",),
    "elasticloadbalancing:Describe*": ("*",),
    "organizations:*": ("*",),
    # On any service of this account, where it is tagged for the acceptor (the condition is
    # checked by test_endpoint_service_writes_name_services_tagged_managed below).
    "ec2:AcceptVpcEndpointConnections": ("*:${AWS::AccountId}:vpc-endpoint-service/*",),
    "ec2:RejectVpcEndpointConnections": ("*:${AWS::AccountId}:vpc-endpoint-service/*",),
    "ec2:*VpcEndpointConnectionNotification*": ("*:${AWS::AccountId}:vpc-endpoint-service/*",),
    # A rule is written on this account's group and is itself a resource (tagged on creation).
    "ec2:AuthorizeSecurityGroupIngress": (
        "*:${AWS::AccountId}:security-group/*",
        "*:${AWS::AccountId}:security-group-rule/*",
    ),
    "ec2:RevokeSecurityGroupIngress": (
        "*:${AWS::AccountId}:security-group/*",
        "*:${AWS::AccountId}:security-group-rule/*",
    ),
    "ec2:CreateTags": ("*:${AWS::AccountId}:security-group-rule/*",),
    "events:PutEvents": ("${EventBus.Arn}",),
}
TABLES = {
    DECISION_TABLE: "${DecisionTable.Arn}",
    IDEMPOTENCY_TABLE: "${IdempotencyTable.Arn}",
    RULE_TABLE: "${SecurityGroupRuleTable.Arn}",
    APPROVAL_TABLE: "${ApprovalTable.Arn}",
}
ROLES = {CONSUMER_ROLE: "*:role/${ConsumerRoleName}", ORGANIZATIONS_ROLE: "${OrganizationsRoleArn}"}

# The least each function must have called for the recording to mean something.
EXPECTED_AT_LEAST = {
    "IngestFunction": {"ec2:DescribeVpcEndpointConnections", "events:PutEvents"},
    "ReconcileFunction": {
        "ec2:DescribeVpcEndpointConnections",
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointConnectionNotifications",
        "ec2:CreateVpcEndpointConnectionNotification",
        "ec2:ModifyVpcEndpointConnectionNotification",
        "ec2:DeleteVpcEndpointConnectionNotifications",
        "events:PutEvents",
    },
    "DecideFunction": {
        "ec2:DescribeVpcEndpointConnections",
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:AcceptVpcEndpointConnections",
        "ec2:RejectVpcEndpointConnections",
        "events:PutEvents",
        "sts:AssumeRole",
        "organizations:ListParents",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
    },
    "SecurityGroupsFunction": {
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "elasticloadbalancing:DescribeLoadBalancers",
        "ec2:DescribeSecurityGroupRules",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:CreateTags",
        "ec2:RevokeSecurityGroupIngress",
        "sts:AssumeRole",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:BatchWriteItem",
        "events:PutEvents",
    },
    "NotifyFunction": {
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointConnections",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "sns:Publish",
        "organizations:DescribeAccount",
        "sts:AssumeRole",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    },
    "ApprovalFunction": {
        "ec2:DescribeVpcEndpointConnections",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "events:PutEvents",
    },
    "SlackInteractionFunction": {
        "secretsmanager:GetSecretValue",
        "ec2:DescribeVpcEndpointConnections",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
    },
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    if not TEMPLATE.exists():
        pytest.fail("template.yaml is missing: this test checks its IAM against the code")
    decoded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert decoded is not None
    return dict(decoded)


# ---------------------------------------------------------------- the recorded calls


# TransactWriteItems is authorized as the actions of its items, each on its own table (the
# DynamoDB developer guide, "Using IAM with DynamoDB transactions").
TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def authorizations(call: Call) -> tuple[tuple[str, str], ...]:
    """The (IAM action, target) pairs IAM checks for the call."""
    if call.action == "dynamodb:TransactWriteItems":
        return tuple(
            (TRANSACT_ACTIONS[kind], TABLES[operation["TableName"]])
            for item in call.params["TransactItems"]
            for kind, operation in item.items()
        )
    return tuple((call.action, target) for target in targets_of(call))


def targets_of(call: Call) -> tuple[str, ...]:
    """What IAM authorizes the call on, written as the template's grants render it; a name
    outside what the template may grant gets a target no grant matches."""
    if call.service == "dynamodb":
        table = call.params.get("TableName") or next(iter(call.params.get("RequestItems", {})))
        index = call.params.get("IndexName")
        return (TABLES[table] + (f"/index/{index}" if index else ""),)
    if call.action == "sts:AssumeRole":
        arn = call.params["RoleArn"]
        return (ROLES[ORGANIZATIONS_ROLE] if arn == ORGANIZATIONS_ROLE else ROLES[CONSUMER_ROLE],)
    if call.action == "secretsmanager:GetSecretValue":
        name = str(call.params["SecretId"])
        inside = name.startswith(SECRET_PREFIX)
        return ("*:secret:${NotificationSecretPrefix}*" if inside else f"secret {name}",)
    if call.action == "ssm:GetParameter":
        name = str(call.params["Name"])
        inside = name.startswith("/" + SECRET_PREFIX)
        return ("*:parameter/${NotificationSecretPrefix}*" if inside else f"parameter {name}",)
    if call.action == "sns:Publish":
        return ("${NotificationTopic}",)
    for pattern, targets in TARGETS.items():
        if fnmatch.fnmatchcase(call.action, pattern):
            return targets
    raise AssertionError(f"no expected target for {call.action}: add it to TARGETS")


@pytest.fixture(scope="module")
def capture() -> Iterator[CaptureServer]:
    """Where the webhook channels post (a real HTTP server on 127.0.0.1)."""
    with serving_capture() as server:
        yield server


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, capture: CaptureServer) -> list[Call]:
    """Run every path of the five handlers once, recording the calls of their own roles."""
    patch = pytest.MonkeyPatch()
    calls: list[Call] = []
    try:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
            patch.delenv(name, raising=False)
        for organizations_role in ("", ORGANIZATIONS_ROLE):
            with LocalAws(REPOSITORY / "events" / "world.yaml") as aws:
                folder = tmp_path_factory.mktemp("iam")
                stack = Stack(aws, folder, patch.setenv)
                provider = aws.world.vpc(aws.world.provider_account, "provider")
                stack.policy(POLICY.replace("{nlb_group}", provider.security_groups["orders-nlb"]))
                stack.environment(ORGANIZATIONS_ROLE_ARN=organizations_role)
                _webhook_urls(stack, capture)
                _every_path(stack, aws)
                calls.extend(stack.calls)
                wiring.notify_deps.cache_clear()
    finally:
        use_clients(None)
        cached_policy.cache_clear()
        wiring.notify_deps.cache_clear()
        patch.undo()
    return calls


def _webhook_urls(stack: Stack, capture: CaptureServer) -> None:
    """The policy's webhook URLs, where NotifyFunction reads them (set up as an operator would,
    not by a function: not recorded)."""
    stack.clients.client("secretsmanager").create_secret(
        Name="privatelink-acceptor/slack-ops", SecretString=capture.url("/slack/ops-token")
    )
    stack.clients.client("secretsmanager").create_secret(
        Name="privatelink-acceptor/slack-signing", SecretString=SLACK_SECRET
    )
    stack.clients.client("ssm").put_parameter(
        Name="/privatelink-acceptor/teams-payments",
        Value=capture.url("/teams/payments-token"),
        Type="SecureString",
    )


def _every_path(stack: Stack, aws: LocalAws) -> None:
    aws.create_endpoints()
    sandbox = aws.world.endpoints["sandbox-orders"]
    stack.clients.ec2().accept_vpc_endpoint_connections(  # by a person: revoked later
        ServiceId=sandbox.service_id, VpcEndpointIds=[sandbox.id]
    )
    stack.ingest(stack.notifications())
    requested = stack.requested()
    aws.faults.configure(
        [FaultRule("AcceptVpcEndpointConnections", "throttle", 1.0, service="ec2")], seed=7
    )
    stack.decide(requested)  # throttled: claims released, records failed
    aws.faults.clear()
    stack.decide(requested)  # accepted, rejected, held
    stack.decide(requested)  # duplicates
    stack.notify(_digest_schedule())  # the daily digest lists the held partner endpoint
    partner = aws.world.endpoints["partner-orders"].id
    stack.approval(approval_event(partner))  # a person approves the held one: recorded
    stack.approval(approval_event(partner))  # again: the record stands (conditional put)
    stack.slack(slack_event(partner))  # a Slack click on it: already decided
    stack.decide(stack.requested())  # the approval read and acted on
    stack.ingest(stack.notifications())  # Accept and Reject notifications: State Changed
    for sweep in ("sweep-1", "sweep-2"):  # revocation reported, then enforced
        stack.reconcile(sweep)
        stack.decide(stack.requested())
    _act_on(stack, stack.observed())  # security groups opened, people told
    # payments-orders and payments-reports share the payments VPC's CIDR, so one NLB rule
    # serves both: it is released with the first deletion and revoked with the second.
    for name in ("payments-orders", "payments-reports"):
        payments = aws.world.endpoints[name]
        aws.client("ec2", account=payments.account, region=payments.region).delete_vpc_endpoints(
            VpcEndpointIds=[payments.id]
        )
        stack.ingest(stack.notifications())  # Delete notification: State Changed
        _act_on(stack, stack.observed())  # what was opened for it closed, people told
    for name in ("cloudtrail-accept-by-console-user.json", "cloudtrail-accept-by-acceptor.json"):
        stack.notify(json.loads((EVENTS / name).read_text()))  # manual override, and not one
    stack.environment(MANAGED_SERVICE_IDS="")
    _notifications_to_keep(stack, aws)
    stack.reconcile("sweep-every-service")  # one created, one repaired
    reports = aws.world.services["reports-api"].id
    stack.clients.ec2().create_tags(  # the operator lets a service go
        Resources=[reports], Tags=[{"Key": MANAGED_TAG, "Value": "false"}]
    )
    stack.reconcile("sweep-after-a-service-left")  # its notification removed


def _digest_schedule() -> dict[str, Any]:
    return json.loads((EVENTS / "notify-digest-schedule.json").read_text())


def _notifications_to_keep(stack: Stack, aws: LocalAws) -> None:
    """An operator deletes the notification of one service and trims the other's events (not
    recorded): the next sweep creates the first and repairs the second."""
    ec2 = stack.clients.ec2()
    found = ec2.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    by_service = {n["ServiceId"]: n["ConnectionNotificationId"] for n in found}
    orders, reports = (aws.world.services[name].id for name in ("orders-api", "reports-api"))
    ec2.delete_vpc_endpoint_connection_notifications(
        ConnectionNotificationIds=[by_service[reports]]
    )
    ec2.modify_vpc_endpoint_connection_notification(
        ConnectionNotificationId=by_service[orders], ConnectionEvents=["Connect"]
    )


def _act_on(stack: Stack, events: list[dict[str, Any]]) -> None:
    """What the template's rules deliver: decisions and ended connections to SecurityGroups,
    everything (its updates included) to Notify."""
    for event in events:
        if _for_security_groups(event):
            stack.security_groups(event)
        stack.notify(event)
    for update in stack.updates():
        stack.notify(update)


def _for_security_groups(event: dict[str, Any]) -> bool:
    detail = event["detail"]
    if event["detail-type"] == "Endpoint Connection Decided":
        return bool(detail["decision"] in ("accept", "reject"))
    return bool(detail["state"] in ("rejected", "deleting", "deleted", "expired", "failed"))


# ---------------------------------------------------------------- the checks


def test_the_recording_covers_every_path(recorded: list[Call]) -> None:
    for function, expected in EXPECTED_AT_LEAST.items():
        made = {call.action for call in recorded if call.function == function}
        assert expected <= made, f"{function} never called {sorted(expected - made)}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_of_a_function_is_granted_to_its_role(
    template: dict[str, Any], recorded: list[Call], function: str
) -> None:
    grants = statements_of(template, function)
    missing = sorted(
        {
            f"{action} on {target} ({call.action})"
            for call in recorded
            if call.function == function
            for action, target in authorizations(call)
            if not any(g.allows(action, target) for g in grants)
        }
    )

    assert missing == [], f"{function} calls what its role does not grant: {missing}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_mutating_ec2_action_is_granted_on_everything(
    template: dict[str, Any], function: str
) -> None:
    wide = [
        action
        for grant in statements_of(template, function)
        if "*" in grant.resources
        for action in grant.actions
        if is_mutating_ec2(action)
    ]

    assert wide == []


def test_accept_and_reject_are_granted_only_on_the_managed_services(
    template: dict[str, Any],
) -> None:
    grants = statements_of(template, "DecideFunction")
    acting = [g for g in grants if any(a.startswith("ec2:Accept") for a in g.actions)]

    assert acting
    for grant in acting:
        assert all("vpc-endpoint-service/" in r for r in grant.resources), grant.resources


def test_accept_and_reject_name_only_services_tagged_managed(recorded: list[Call]) -> None:
    """The grant holds only where aws:ResourceTag/privatelink-acceptor:managed is "true"
    (tests/template checks the condition): every service Decide acted on carries the tag."""
    world = load_world(REPOSITORY / "events" / "world.yaml")
    tagged = {s.id for s in world.provider.services if s.tags.get(MANAGED_TAG) == MANAGED_VALUE}
    acted_on = {
        str(call.params["ServiceId"])
        for call in recorded
        if call.action in ("ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections")
    }

    assert acted_on
    assert acted_on <= tagged


def test_notifications_are_created_only_for_services_tagged_managed(recorded: list[Call]) -> None:
    world = load_world(REPOSITORY / "events" / "world.yaml")
    tagged = {s.id for s in world.provider.services if s.tags.get(MANAGED_TAG) == MANAGED_VALUE}
    created = {
        str(call.params["ServiceId"])
        for call in recorded
        if call.action == "ec2:CreateVpcEndpointConnectionNotification"
    }

    assert created
    assert created <= tagged
