"""The version 1 additions `limits` and `approval`: what they accept, what they refuse (file,
line and message), and that a file without them keeps its version hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor.policy.model import Approval, Limits

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
HEAD = "version: 1\nservices: [vpce-svc-0123456789abcdef0]\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(PolicyValidationError) as raised:
        load_policy([path])
    return [str(problem) for problem in raised.value.problems]


def test_limits_and_approval_are_read_into_the_model(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "limits: {per_account: 3, over_limit: reject}\n"
        "approval:\n"
        "  approvers: [arn:aws:iam::999988887777:role/NetworkAdmins, slack:U0123ABCD]\n"
        "  security_groups: {consumer_endpoint: {ports: [443]}}\n"
        "  expires_after: 14d\n",
    )

    (document,) = load_policy([path]).documents

    assert document.model.limits == Limits(per_account=3, over_limit="reject")
    approval = document.model.approval
    assert isinstance(approval, Approval)
    assert approval.approvers == ["arn:aws:iam::999988887777:role/NetworkAdmins", "slack:U0123ABCD"]
    assert approval.security_groups is not None
    assert approval.security_groups.consumer_endpoint is not None
    assert approval.security_groups.consumer_endpoint.ports == [443]
    assert approval.expires_after is not None
    assert approval.expires_after.days == 14


def test_over_limit_defaults_to_hold(tmp_path: Path) -> None:
    (document,) = load_policy([write(tmp_path, "limits: {per_account: 1}\n")]).documents

    assert document.model.limits == Limits(per_account=1, over_limit="hold")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "limits: {per_account: 0}\n",
            "policy.yaml:3: limits.per_account: 0 is too small; the least allowed is 1",
        ),
        (
            'limits: {per_account: "3"}\n',
            "policy.yaml:3: limits.per_account: should be a whole number (not quoted); "
            "found the text '3'",
        ),
        (
            "limits: {over_limit: hold}\n",
            "policy.yaml:3: limits: missing required key 'per_account'",
        ),
        (
            "limits: {per_account: 2, over_limit: accept}\n",
            "policy.yaml:3: limits.over_limit: the text 'accept' is not allowed here; "
            "use 'hold' or 'reject'",
        ),
        ("limits:\n", "policy.yaml:3: limits: has no value; give a value or remove the key"),
        (
            "approval: {approvers: []}\n",
            "policy.yaml:3: approval.approvers: must not be empty; list at least one value or "
            "remove this key",
        ),
        (
            "approval:\n  approvers: [slack:alice]\n",
            "policy.yaml:4: approval.approvers[0]: 'slack:alice' is not an IAM principal ARN",
        ),
        (
            "approval:\n  approvers: [arn:aws:iam::999988887777:group/Admins]\n",
            "policy.yaml:4: approval.approvers[0]: 'arn:aws:iam::999988887777:group/Admins' is "
            "not an IAM principal ARN",
        ),
        (
            "approval:\n  expires_after: 2 weeks\n",
            "policy.yaml:4: approval.expires_after: '2 weeks' is not a duration",
        ),
        (
            "approval:\n  security_groups: {provider: {group: sg-0123456789abcdef0, ports: [0]}}\n",
            "policy.yaml:4: approval.security_groups.provider.ports[0]: 0 is too small; ports "
            "run from 1 to 65535",
        ),
        (
            "approval:\n  approver: [slack:U0123ABCD]\n",
            "policy.yaml:4: approval: unknown key 'approver'; did you mean 'approvers'?",
        ),
    ],
    ids=lambda value: value[:40],
)
def test_invalid_limits_or_approval_is_reported_with_file_line_and_message(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path, body)

    (problem,) = problems(path)

    assert problem.startswith(f"{tmp_path}/{expected}"), problem


@pytest.mark.parametrize(
    "approver",
    [
        "arn:aws:iam::999988887777:role/NetworkAdmins",
        "arn:aws:iam::999988887777:role/team/network/NetworkAdmins",
        "arn:aws:iam::999988887777:user/alice@example.com",
        "arn:aws:iam::999988887777:root",
        "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice",
        "arn:aws-us-gov:iam::999988887777:role/NetworkAdmins",
        "arn:aws-cn:iam::999988887777:role/NetworkAdmins",
        "slack:U0123ABCD",
        "slack:W0123ABCD",
    ],
)
def test_approver_forms_that_name_a_person_or_role_are_accepted(
    tmp_path: Path, approver: str
) -> None:
    path = write(tmp_path, f'approval: {{approvers: ["{approver}"]}}\n')

    (document,) = load_policy([path]).documents

    assert document.model.approval is not None
    assert document.model.approval.approvers == [approver]


@pytest.mark.parametrize(
    "approver",
    [
        "arn:aws:iam::99998888777:role/NetworkAdmins",  # 11 digits
        "arn:aws:iam::999988887777:role/",  # no name
        "arn:aws:s3:::my-bucket",  # not a principal
        "arn:aws:sts::999988887777:assumed-role/NetworkAdmins",  # no session
        "arn:aws:iam::999988887777:role/NetworkAdmins\n",  # a trailing newline
        "slack:u0123abcd",  # Slack IDs are upper case
        "U0123ABCD",  # without slack:
    ],
)
def test_malformed_approver_is_refused(tmp_path: Path, approver: str) -> None:
    # A JSON string is a YAML double-quoted string: the newline case is a real newline.
    path = write(tmp_path, f"approval: {{approvers: [{json.dumps(approver)}]}}\n")

    (problem,) = problems(path)

    assert ": approval.approvers[0]: " in problem
    assert "is not an IAM principal ARN" in problem


def test_files_without_the_additions_keep_their_version_hash() -> None:
    # The hash the starter policy had before limits and approval existed (docs/policy.md).
    assert load_policy([ROOT / "policies"]).version_hash == "00ef41f8057aaa00"


def test_limits_change_the_version_hash(tmp_path: Path) -> None:
    without = load_policy([write(tmp_path, "")]).version_hash

    with_limits = load_policy([write(tmp_path, "limits: {per_account: 3}\n")]).version_hash

    assert with_limits != without
