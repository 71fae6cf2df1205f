"""Fake credentials, the Lambda context fake, and what counts as a mutating EC2 action."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import boto3

REGION = "us-east-1"
PROVIDER = "999988887777"

# Credentials no AWS accepts: botocore signs with them, moto or a Stubber answers.
FAKE_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def fake_session(region: str = REGION) -> boto3.session.Session:
    """A boto3 session with the fake credentials, reading nothing from the environment."""
    return boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that the handlers and Powertools read."""

    function_name: str = "privatelink-acceptor-DecideFunction"
    memory_limit_in_mb: int = 512
    remaining_ms: int = 60_000
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{PROVIDER}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# EC2 writes (accepting or rejecting connections, security-group changes, creating, deleting,
# modifying or updating anything): none may be granted on "*". Reads are Describe* and Get*.
MUTATING_EC2 = (
    "ec2:Accept*",
    "ec2:Reject*",
    "ec2:Create*",
    "ec2:Delete*",
    "ec2:Modify*",
    "ec2:Update*",
    "ec2:Authorize*",
    "ec2:Revoke*",
    "ec2:*SecurityGroup*",
)
READ_ONLY_EC2 = ("ec2:Describe*", "ec2:Get*")
# A granted pattern such as `*`, `ec2:*` or `ec2:*Vpc*` is mutating when it covers one of these.
MUTATIONS = (
    "ec2:AcceptVpcEndpointConnections",
    "ec2:RejectVpcEndpointConnections",
    "ec2:CreateTags",
    "ec2:DeleteVpcEndpoints",
    "ec2:ModifyVpcEndpointServicePermissions",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
)


def is_mutating_ec2(action: str) -> bool:
    """True for an IAM action (or action pattern) that can change EC2."""
    if any(fnmatchcase(mutation, action) for mutation in MUTATIONS):
        return True
    if any(fnmatchcase(action, read) for read in READ_ONLY_EC2):
        return False
    return any(fnmatchcase(action, pattern) for pattern in MUTATING_EC2)
