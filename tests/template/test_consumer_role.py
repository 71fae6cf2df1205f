"""consumer-role.yaml: it lints clean; its read role trusts only the acceptor's Decide and
SecurityGroups roles, its write role only SecurityGroups, both with the ExternalId, whatever the
acceptor's stack is called (both samconfig.toml environments); reads only describe; writes
(behind their parameter) are ingress on security groups of one region.

The template is resolved for each parameter combination the way CloudFormation would (the
replay's intrinsic resolver), then its policies are checked as the documents IAM would get.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from sam_template import load

from acceptor_tools.replay.intrinsics import Resolver

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "consumer-role.yaml"
CONSUMER = "111122223333"
ACCEPTOR = "999988887777"
EXTERNAL_ID = "acceptor-external-id-7f3a"
REGION = "eu-west-1"
READ_ACTIONS = {
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeNetworkInterfaces",
}
WRITE_ACTIONS = {
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:CreateTags",
}
WRITES = ["true", "false"]
SCOPES = ["tagged", "account"]
# The stack names users deploy the acceptor with: samconfig.toml's environments.
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
STACKS = sorted(
    {
        env["global"]["parameters"]["stack_name"]
        for env in SAMCONFIG.values()
        if isinstance(env, dict) and "global" in env
    }
)
IAM_ROLE_NAME_MAX = 64


def function_role(stack: str, function: str, path: str) -> str:
    """The ARN CloudFormation gives a SAM function's role: under template.yaml's RolePath, a
    generated name `STACK-FUNCTIONRole-SUFFIX` cut to IAM's 64 characters."""
    name = f"{stack}-{function}Role-A1B2C3D4E5F6"[:IAM_ROLE_NAME_MAX]
    return f"arn:aws:iam::{ACCEPTOR}:role/privatelink-acceptor/{stack}/{path}/{name}"


def template() -> dict[str, Any]:
    # cfn-lint's decoder, not samcli's yaml_parse: that one changes PyYAML's SafeLoader for the
    # whole process, and later tests would read YAML differently.
    return load(TEMPLATE)


def render(**parameters: str) -> dict[str, Any]:
    """Both roles (the write role None when it does not exist): name, trust policy and every
    policy statement that exists for these parameters."""
    body = template()
    values: dict[str, Any] = {
        name: spec["Default"] for name, spec in body["Parameters"].items() if "Default" in spec
    }
    values.update(AcceptorAccountId=ACCEPTOR, ExternalId=EXTERNAL_ID, **parameters)
    resolver = Resolver(body, values, account=CONSUMER, region=REGION, stack="consumer")
    roles: dict[str, Any] = {"read": None, "write": None}
    for key, logical_id in (("read", "ConsumerRole"), ("write", "ConsumerWriteRole")):
        if not resolver.exists(logical_id):
            continue
        role = resolver.resolve(body["Resources"][logical_id]["Properties"])
        statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        for policy_id, resource in body["Resources"].items():
            if (
                resource["Type"] == "AWS::IAM::RolePolicy"
                and resolver.exists(policy_id)
                and resource["Properties"]["RoleName"] == {"Ref": logical_id}
            ):
                document = resolver.resolve(resource["Properties"])["PolicyDocument"]
                statements.extend(document["Statement"])
        roles[key] = {
            "role": role,
            "trust": role["AssumeRolePolicyDocument"],
            "statements": statements,
        }
    read = roles["read"]
    return {**read, "write": roles["write"]}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in listed(s["Action"])}


def trusted(
    trust: dict[str, Any], principal_arn: str, external_id: str | None, org_id: str | None = None
) -> bool:
    """Whether the trust policy lets this role session in: what IAM evaluates for AssumeRole."""
    account = principal_arn.split(":")[4]
    context = {
        "sts:ExternalId": external_id,
        "aws:PrincipalAccount": account,
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalOrgID": org_id,
    }
    for statement in trust["Statement"]:
        principals = listed(statement["Principal"]["AWS"])
        if not any(p in (principal_arn, f"arn:aws:iam::{account}:root") for p in principals):
            continue
        ok = True
        for operator, conditions in statement.get("Condition", {}).items():
            for key, wanted in conditions.items():
                value = context.get(key)
                if value is None:
                    ok = False
                elif operator == "StringEquals":
                    ok = ok and value in listed(wanted)
                elif operator == "ArnLike":
                    ok = ok and any(fnmatch.fnmatchcase(value, w) for w in listed(wanted))
                else:
                    ok = False
        if ok and statement["Effect"] == "Allow":
            return True
    return False


def test_the_template_lints_clean_with_the_serverless_rules_too() -> None:
    config = ManualArgs(
        regions=["us-east-1", "eu-west-1"], append_rules=["cfn_lint_serverless.rules"]
    )

    matches = lint_file(TEMPLATE, config=config)

    assert [str(m) for m in matches] == []


def test_it_needs_no_transform_so_stacksets_deploy_it_as_is() -> None:
    assert "Transform" not in template()


def test_the_external_id_is_required_and_not_echoed() -> None:
    external_id = template()["Parameters"]["ExternalId"]

    assert external_id["NoEcho"] is True
    assert "Default" not in external_id
    assert external_id["MinLength"] >= 2


def test_writes_are_off_by_default_and_then_there_is_no_write_role() -> None:
    assert template()["Parameters"]["AllowSecurityGroupWrites"]["Default"] == "false"

    rendered = render()

    assert actions(rendered["statements"]) == READ_ACTIONS
    assert rendered["write"] is None


def test_reads_are_describes_only() -> None:
    (read,) = [s for s in render()["statements"] if set(listed(s["Action"])) & READ_ACTIONS]

    assert set(listed(read["Action"])) == READ_ACTIONS
    assert read["Resource"] == "*"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("function", "path"),
    [("DecideFunction", "decide"), ("SecurityGroupsFunction", "security-groups")],
)
def test_the_read_role_trusts_decide_and_security_groups_of_each_samconfig_stack(
    stack: str, function: str, path: str
) -> None:
    trust = render(AcceptorStackName=stack)["trust"]

    assert trusted(trust, function_role(stack, function, path), EXTERNAL_ID)


@pytest.mark.parametrize("stack", STACKS)
def test_the_write_role_trusts_security_groups_only_of_each_samconfig_stack(stack: str) -> None:
    trust = render(AcceptorStackName=stack, AllowSecurityGroupWrites="true")["write"]["trust"]

    assert trusted(
        trust, function_role(stack, "SecurityGroupsFunction", "security-groups"), EXTERNAL_ID
    )
    assert not trusted(trust, function_role(stack, "DecideFunction", "decide"), EXTERNAL_ID)


def test_samconfig_has_the_default_and_the_prod_stack() -> None:
    assert STACKS == ["privatelink-acceptor", "privatelink-acceptor-prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_trusts_neither_the_other_stacks_roles_nor_its_other_functions(stack: str) -> None:
    rendered = render(AcceptorStackName=stack, AllowSecurityGroupWrites="true")
    others = [other for other in STACKS if other != stack]

    for trust in (rendered["trust"], rendered["write"]["trust"]):
        for other in others:
            principal = function_role(other, "SecurityGroupsFunction", "security-groups")
            assert not trusted(trust, principal, EXTERNAL_ID)
        assert not trusted(trust, function_role(stack, "NotifyFunction", "notify"), EXTERNAL_ID)
        # A role named like the function but outside its path is not it.
        lookalike = f"arn:aws:iam::{ACCEPTOR}:role/{stack}-SecurityGroupsFunctionRole-X"
        assert not trusted(trust, lookalike, EXTERNAL_ID)


@pytest.mark.parametrize(
    ("principal", "external_id"),
    [
        (function_role("privatelink-acceptor", "DecideFunction", "decide"), None),
        (function_role("privatelink-acceptor", "DecideFunction", "decide"), "guess"),
        (f"arn:aws:iam::{ACCEPTOR}:user/admin", EXTERNAL_ID),
        (
            function_role("privatelink-acceptor", "DecideFunction", "decide").replace(
                ACCEPTOR, "444455556666"
            ),
            EXTERNAL_ID,
        ),
    ],
)
def test_anyone_else_or_a_wrong_external_id_is_not_trusted(
    principal: str, external_id: str | None
) -> None:
    rendered = render(AllowSecurityGroupWrites="true")

    assert not trusted(rendered["trust"], principal, external_id)
    assert not trusted(rendered["write"]["trust"], principal, external_id)


def test_the_trust_policies_name_the_acceptor_account_and_only_assume_role() -> None:
    rendered = render(AllowSecurityGroupWrites="true")

    for trust in (rendered["trust"], rendered["write"]["trust"]):
        (statement,) = trust["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCEPTOR}:root"}
        assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == EXTERNAL_ID
        assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == ACCEPTOR
        assert "aws:PrincipalOrgID" not in statement["Condition"]["StringEquals"]


def test_an_organization_id_pins_the_acceptor_to_its_organization() -> None:
    rendered = render(AllowSecurityGroupWrites="true", AcceptorOrganizationId="o-abc123def4")
    principal = function_role("privatelink-acceptor", "SecurityGroupsFunction", "security-groups")

    for trust in (rendered["trust"], rendered["write"]["trust"]):
        assert trusted(trust, principal, EXTERNAL_ID, org_id="o-abc123def4")
        assert not trusted(trust, principal, EXTERNAL_ID, org_id="o-zzzzzzzzzz")
        assert not trusted(trust, principal, EXTERNAL_ID)


def test_role_names_fit_iams_limit_for_the_longest_allowed_name() -> None:
    pattern = template()["Parameters"]["RoleName"]["AllowedPattern"]
    longest = int(pattern.rsplit(",", 1)[1].split("}")[0])
    rendered = render(RoleName="r" * longest, AllowSecurityGroupWrites="true")

    assert len(rendered["role"]["RoleName"]) <= IAM_ROLE_NAME_MAX
    assert len(rendered["write"]["role"]["RoleName"]) <= IAM_ROLE_NAME_MAX
    assert rendered["write"]["role"]["RoleName"] == "r" * longest + "-write"


@pytest.mark.parametrize("stack", STACKS)
def test_the_acceptor_function_roles_names_fit_and_paths_match_for_each_samconfig_stack(
    stack: str,
) -> None:
    acceptor = load(ROOT / "template.yaml")
    for function, path in (
        ("DecideFunction", "decide"),
        ("SecurityGroupsFunction", "security-groups"),
    ):
        role_path = acceptor["Resources"][function]["Properties"]["RolePath"]
        assert role_path == {"Fn::Sub": f"/privatelink-acceptor/${{AWS::StackName}}/{path}/"}
        arn = function_role(stack, function, path)
        assert len(arn.rsplit("/", 1)[1]) <= IAM_ROLE_NAME_MAX
        assert arn.startswith(
            f"arn:aws:iam::{ACCEPTOR}:role"
            + role_path["Fn::Sub"].replace("${AWS::StackName}", stack)
        )


def test_the_write_role_has_the_tagged_scope_by_default_pinned_to_the_stacks_region() -> None:
    assert template()["Parameters"]["SecurityGroupWriteScope"]["Default"] == "tagged"
    statements = render(AllowSecurityGroupWrites="true")["write"]["statements"]

    groups = [s for s in statements if ":security-group/" in str(s["Resource"])]
    (on_groups,) = groups
    assert on_groups["Resource"] == f"arn:aws:ec2:{REGION}:{CONSUMER}:security-group/*"
    assert on_groups["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/privatelink-acceptor:managed": "true",
            "aws:RequestedRegion": REGION,
        }
    }


def test_a_write_region_moves_the_pin() -> None:
    statements = render(AllowSecurityGroupWrites="true", WriteRegion="us-west-2")["write"][
        "statements"
    ]

    for statement in statements:
        assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == "us-west-2"
        for resource in listed(statement["Resource"]):
            assert resource.startswith(f"arn:aws:ec2:us-west-2:{CONSUMER}:security-group")


@pytest.mark.parametrize(("writes", "scope"), list(itertools.product(WRITES, SCOPES)))
def test_no_combination_grants_more_than_ingress_writes_on_this_accounts_groups_in_one_region(
    writes: str, scope: str
) -> None:
    rendered = render(AllowSecurityGroupWrites=writes, SecurityGroupWriteScope=scope)

    assert actions(rendered["statements"]) == READ_ACTIONS, "the read role only reads"
    write_statements = rendered["write"]["statements"] if rendered["write"] else []
    assert actions(write_statements) <= WRITE_ACTIONS
    for statement in write_statements:
        assert statement["Effect"] == "Allow"
        assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == REGION
        for resource in listed(statement["Resource"]):
            assert resource.startswith(f"arn:aws:ec2:{REGION}:{CONSUMER}:security-group")
        if "ec2:CreateTags" in listed(statement["Action"]):
            assert statement["Resource"] == f"arn:aws:ec2:{REGION}:{CONSUMER}:security-group-rule/*"
            assert statement["Condition"]["StringEquals"]["ec2:CreateAction"] == (
                "AuthorizeSecurityGroupIngress"
            )
    granted = actions(write_statements)
    assert granted == (WRITE_ACTIONS if writes == "true" else set())


def test_the_stacksets_command_in_the_docs_passes_every_required_parameter_and_the_stack() -> None:
    docs = (ROOT / "docs" / "operations.md").read_text()
    command = docs[docs.index("aws cloudformation create-stack-set") :].split("```")[0]
    passed = set(re.findall(r"ParameterKey=(\w+),", command))
    stack = re.search(r"^ACCEPTOR_STACK=([\w-]+)", docs, flags=re.MULTILINE)
    parameters = template()["Parameters"]

    assert passed <= set(parameters), "every key is a parameter of consumer-role.yaml"
    assert {name for name, spec in parameters.items() if "Default" not in spec} <= passed
    assert "AcceptorStackName" in passed
    assert stack is not None
    assert stack.group(1) in STACKS
