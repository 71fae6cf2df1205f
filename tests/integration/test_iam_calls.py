"""Every AWS call a function makes with its own role is granted to that role in template.yaml,
on the resource it needs and no wider; nothing mutating in EC2 is granted on `*`.

The calls are recorded, not guessed: the three handlers run against the local AWS through
every path that reaches AWS (notifications, a sweep with and without managed services, decisions
that accept, reject and hold, a revocation reported then enforced, a throttled accept that
releases its claims, Organizations read directly and through a role), and each call's IAM action
and target are checked against the statements of the function's role.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from acceptor.aws.clients import use_clients
from acceptor.policy.loader import cached_policy
from acceptor_tools.local_aws import FaultRule, LocalAws
from integration.handlers.handlers_stack import (
    CONSUMER_ROLE,
    DECISION_TABLE,
    IDEMPOTENCY_TABLE,
    Call,
    Stack,
)

# cfn-lint's CloudFormation-aware YAML reader (`!Ref` and friends); cfn-lint ships no types.
decode: Any = importlib.import_module("cfnlint.decode").decode

REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE = REPOSITORY / "template.yaml"
# SAM's policy templates (DynamoDBCrudPolicy, ...), should the template use them.
SAM_POLICY_TEMPLATES = files("samtranslator") / "policy_templates_data" / "policy_templates.json"
ORGANIZATIONS_ROLE = "arn:aws:iam::999988887777:role/OrganizationsRead"
FUNCTIONS = ("IngestFunction", "ReconcileFunction", "DecideFunction")

POLICY = """\
version: 1
services: ["*"]
default: hold
revoke: true
rules:
  - name: payments-prod
    decision: accept
    when: {accounts: ["111122223333", "222233334444"], tags: {env: prod}}
  - name: no-sandboxes
    decision: reject
    when: {tags: {env: sandbox}}
"""

# Describes need `*`; a call that names a resource must be granted on that resource, and no
# statement on `*` counts for it. Patterns are over the rendered template (see `render`).
TARGETS: dict[str, str] = {
    "ec2:Describe*": "*",
    "organizations:*": "*",
    "ec2:AcceptVpcEndpointConnections": "*vpc-endpoint-service/${ManagedServiceIds}",
    "ec2:RejectVpcEndpointConnections": "*vpc-endpoint-service/${ManagedServiceIds}",
    "events:PutEvents": "${EventBus.Arn}",
}
TABLES = {DECISION_TABLE: "${DecisionTable.Arn}", IDEMPOTENCY_TABLE: "${IdempotencyTable.Arn}"}
ROLES = {CONSUMER_ROLE: "*:role/${ConsumerRoleName}", ORGANIZATIONS_ROLE: "${OrganizationsRoleArn}"}

# The least each function must have called for the recording to mean something.
EXPECTED_AT_LEAST = {
    "IngestFunction": {"ec2:DescribeVpcEndpointConnections", "events:PutEvents"},
    "ReconcileFunction": {
        "ec2:DescribeVpcEndpointConnections",
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "events:PutEvents",
    },
    "DecideFunction": {
        "ec2:DescribeVpcEndpointConnections",
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
}

MUTATING_EC2 = (
    "ec2:Accept*",
    "ec2:Reject*",
    "ec2:Create*",
    "ec2:Delete*",
    "ec2:Modify*",
    "ec2:Authorize*",
    "ec2:Revoke*",
)
# A granted pattern such as `ec2:*` or `ec2:*Vpc*` is mutating when it covers one of these.
MUTATIONS = (
    "ec2:AcceptVpcEndpointConnections",
    "ec2:RejectVpcEndpointConnections",
    "ec2:CreateTags",
    "ec2:DeleteVpcEndpoints",
    "ec2:ModifyVpcEndpointServicePermissions",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
)


def mutating(action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, m) for m in MUTATING_EC2) or any(
        fnmatch.fnmatchcase(m, action) for m in MUTATIONS
    )


# ---------------------------------------------------------------- the template's grants


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, target: str) -> bool:
        return any(fnmatch.fnmatchcase(action, a) for a in self.actions) and any(
            r == target or (target != "*" and fnmatch.fnmatchcase(r, target))
            for r in self.resources
        )


def render(value: Any) -> str:
    """A resource as text, intrinsics shown by what they name (`${EventBus.Arn}`,
    `${ManagedServiceIds}` for anything built from that parameter)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return "${" + str(argument) + "}"
        if name == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".")
            return "${" + ".".join(str(p) for p in parts) + "}"
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            for variable, expression in variables.items():
                text = text.replace("${" + variable + "}", render(expression))
            return str(text)
        referenced = sorted(set(_references(argument)))
        return "${" + ",".join(referenced) + "}"
    return json.dumps(value)


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, argument in value.items():
            if name == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
                yield argument
            else:
                yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _branches(value: Any) -> Iterator[Any]:
    """Both sides of an Fn::If (a grant that holds when its condition holds), minus NoValue."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _listed(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return [branch for item in items for branch in _branches(item)]


def statements_of(template: dict[str, Any], function: str) -> list[Grant]:
    resources = template["Resources"]
    properties = resources[function]["Properties"]
    sam_templates = json.loads(SAM_POLICY_TEMPLATES.read_text())["Templates"]
    documents: list[Any] = []
    for policy in _listed(properties.get("Policies", [])):
        if isinstance(policy, dict) and "Statement" in policy:
            documents.append(policy)
        elif isinstance(policy, dict) and set(policy) == {"Ref"}:
            documents.append(resources[policy["Ref"]]["Properties"]["PolicyDocument"])
        elif isinstance(policy, dict) and len(policy) == 1:
            ((name, parameters),) = policy.items()
            definition = sam_templates[name]["Definition"]
            documents.append(_substitute(definition, parameters or {}))
    grants = []
    for document in documents:
        for statement in _listed(document["Statement"]):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            grants.append(
                Grant(
                    actions=tuple(str(a) for a in _listed(statement["Action"])),
                    resources=tuple(render(r) for r in _listed(statement["Resource"])),
                )
            )
    return grants


def _substitute(definition: Any, parameters: dict[str, Any]) -> Any:
    """A SAM policy template with its parameters put in (`${TableName}` and the like)."""
    text = json.dumps(definition)
    for name, value in parameters.items():
        text = text.replace('{"Ref": "' + name + '"}', json.dumps({"Ref": render(value)}))
    return json.loads(text)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    if not TEMPLATE.exists():
        pytest.fail("template.yaml is missing: this test checks its IAM against the code")
    decoded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert decoded is not None
    return dict(decoded)


# ---------------------------------------------------------------- the recorded calls


def target_of(call: Call) -> str:
    if call.service == "dynamodb":
        table = call.params.get("TableName") or next(iter(call.params.get("RequestItems", {})))
        return TABLES[table]
    if call.action == "sts:AssumeRole":
        arn = call.params["RoleArn"]
        return ROLES[ORGANIZATIONS_ROLE] if arn == ORGANIZATIONS_ROLE else ROLES[CONSUMER_ROLE]
    for pattern, target in TARGETS.items():
        if fnmatch.fnmatchcase(call.action, pattern):
            return target
    raise AssertionError(f"no expected target for {call.action}: add it to TARGETS")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[Call]:
    """Run every path of the three handlers once, recording the calls of their own roles."""
    patch = pytest.MonkeyPatch()
    calls: list[Call] = []
    try:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
            patch.delenv(name, raising=False)
        for organizations_role in ("", ORGANIZATIONS_ROLE):
            with LocalAws(REPOSITORY / "events" / "world.yaml") as aws:
                folder = tmp_path_factory.mktemp("iam")
                stack = Stack(aws, folder, patch.setenv)
                stack.policy(POLICY)
                stack.environment(ORGANIZATIONS_ROLE_ARN=organizations_role)
                _every_path(stack, aws)
                calls.extend(stack.calls)
    finally:
        use_clients(None)
        cached_policy.cache_clear()
        patch.undo()
    return calls


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
    stack.ingest(stack.notifications())  # Accept and Reject notifications: State Changed
    for sweep in ("sweep-1", "sweep-2"):  # revocation reported, then enforced
        stack.reconcile(sweep)
        stack.decide(stack.requested())
    stack.environment(MANAGED_SERVICE_IDS="")
    stack.reconcile("sweep-every-service")


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
            f"{call.action} on {target_of(call)}"
            for call in recorded
            if call.function == function
            and not any(g.allows(call.action, target_of(call)) for g in grants)
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
        if mutating(action)
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
