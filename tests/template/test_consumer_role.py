"""consumer-role.yaml: it lints clean, trusts only the acceptor's function roles with the
ExternalId, reads only, and writes (behind its parameter) only ingress on security groups.

The template is resolved for each parameter combination the way CloudFormation would (the
replay's intrinsic resolver), then its policies are checked as the documents IAM would get.
"""

from __future__ import annotations

import fnmatch
import itertools
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


def template() -> dict[str, Any]:
    # cfn-lint's decoder, not samcli's yaml_parse: that one changes PyYAML's SafeLoader for the
    # whole process, and later tests would read YAML differently.
    return load(TEMPLATE)


def render(**parameters: str) -> dict[str, Any]:
    """Role name, trust policy and every policy statement that exists for these parameters."""
    body = template()
    values: dict[str, Any] = {
        name: spec["Default"] for name, spec in body["Parameters"].items() if "Default" in spec
    }
    values.update(AcceptorAccountId=ACCEPTOR, ExternalId=EXTERNAL_ID, **parameters)
    values["AcceptorRoleNames"] = str(values["AcceptorRoleNames"]).split(",")
    resolver = Resolver(body, values, account=CONSUMER, region="eu-west-1", stack="consumer")
    role = resolver.resolve(body["Resources"]["ConsumerRole"]["Properties"])
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for logical_id, resource in body["Resources"].items():
        if resource["Type"] == "AWS::IAM::RolePolicy" and resolver.exists(logical_id):
            document = resolver.resolve(resource["Properties"])["PolicyDocument"]
            statements.extend(document["Statement"])
    return {"role": role, "trust": role["AssumeRolePolicyDocument"], "statements": statements}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in listed(s["Action"])}


def trusted(trust: dict[str, Any], principal_arn: str, external_id: str | None) -> bool:
    """Whether the trust policy lets this role session in: what IAM evaluates for AssumeRole."""
    account = principal_arn.split(":")[4]
    context = {
        "sts:ExternalId": external_id,
        "aws:PrincipalAccount": account,
        "aws:PrincipalArn": principal_arn,
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


def test_writes_are_off_by_default() -> None:
    assert template()["Parameters"]["AllowSecurityGroupWrites"]["Default"] == "false"

    assert actions(render()["statements"]) == READ_ACTIONS


def test_reads_are_describes_only() -> None:
    (read,) = [s for s in render()["statements"] if set(listed(s["Action"])) & READ_ACTIONS]

    assert set(listed(read["Action"])) == READ_ACTIONS
    assert read["Resource"] == "*"


@pytest.mark.parametrize(
    "role",
    [
        "privatelink-acceptor-SecurityGroupsFunctionRole-1A2B3C4D5E6F",
        "privatelink-acceptor-DecideFunctionRole-ZYXWVU987654",
    ],
)
def test_the_acceptors_function_roles_are_trusted_with_the_external_id(role: str) -> None:
    trust = render()["trust"]

    assert trusted(trust, f"arn:aws:iam::{ACCEPTOR}:role/{role}", EXTERNAL_ID)


@pytest.mark.parametrize(
    ("principal", "external_id"),
    [
        (f"arn:aws:iam::{ACCEPTOR}:role/privatelink-acceptor-DecideFunctionRole-X", None),
        (f"arn:aws:iam::{ACCEPTOR}:role/privatelink-acceptor-DecideFunctionRole-X", "guess"),
        (f"arn:aws:iam::{ACCEPTOR}:role/privatelink-acceptor-NotifyFunctionRole-X", EXTERNAL_ID),
        (f"arn:aws:iam::{ACCEPTOR}:user/admin", EXTERNAL_ID),
        ("arn:aws:iam::444455556666:role/privatelink-acceptor-DecideFunctionRole-X", EXTERNAL_ID),
    ],
)
def test_anyone_else_or_a_wrong_external_id_is_not_trusted(
    principal: str, external_id: str | None
) -> None:
    assert not trusted(render()["trust"], principal, external_id)


def test_the_trust_policy_names_the_acceptor_account_and_only_assume_role() -> None:
    (statement,) = render()["trust"]["Statement"]

    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCEPTOR}:root"}
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == EXTERNAL_ID
    assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == ACCEPTOR


def test_role_names_given_as_a_list_become_one_pattern_each() -> None:
    trust = render(AcceptorRoleNames="acceptor-a-*,acceptor-b")["trust"]

    patterns = trust["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert patterns == ["arn:*:iam::*:role/acceptor-a-*", "arn:*:iam::*:role/acceptor-b"]


def test_tagged_scope_writes_only_to_groups_tagged_for_the_acceptor() -> None:
    statements = render(AllowSecurityGroupWrites="true", SecurityGroupWriteScope="tagged")[
        "statements"
    ]

    groups = [s for s in statements if ":security-group/" in str(s["Resource"])]
    (on_groups,) = groups
    assert on_groups["Resource"] == f"arn:aws:ec2:*:{CONSUMER}:security-group/*"
    assert on_groups["Condition"] == {
        "StringEquals": {"aws:ResourceTag/privatelink-acceptor:managed": "true"}
    }


@pytest.mark.parametrize(("writes", "scope"), list(itertools.product(WRITES, SCOPES)))
def test_no_combination_grants_more_than_ingress_writes_on_this_accounts_groups(
    writes: str, scope: str
) -> None:
    statements = render(AllowSecurityGroupWrites=writes, SecurityGroupWriteScope=scope)[
        "statements"
    ]

    assert actions(statements) <= READ_ACTIONS | WRITE_ACTIONS
    for statement in statements:
        assert statement["Effect"] == "Allow"
        if set(listed(statement["Action"])) & WRITE_ACTIONS:
            for resource in listed(statement["Resource"]):
                assert resource.startswith(f"arn:aws:ec2:*:{CONSUMER}:security-group")
        if "ec2:CreateTags" in listed(statement["Action"]):
            assert statement["Resource"] == f"arn:aws:ec2:*:{CONSUMER}:security-group-rule/*"
            assert statement["Condition"] == {
                "StringEquals": {"ec2:CreateAction": "AuthorizeSecurityGroupIngress"}
            }
    granted = actions(statements) & WRITE_ACTIONS
    assert granted == (WRITE_ACTIONS if writes == "true" else set())
