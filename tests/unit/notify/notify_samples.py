"""Builders of the events NotifyFunction receives, in the shapes of the bus contract and of
CloudTrail, with the demo world's IDs (events/world.yaml)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

PROVIDER = "999988887777"
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
OTHER_SERVICE = "vpce-svc-0b2c3d4e5f6a78901"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
CONSUMER = "111122223333"
DECIDE_ROLE = f"arn:aws:iam::{PROVIDER}:role/privatelink-acceptor-DecideFunctionRole-4B31D0496DC6"
SSO_ROLE = "AWSReservedSSO_NetworkAdmin_0123456789abcdef"
DECIDE_SESSION = "privatelink-acceptor-DecideFunction-AbCdEf"

_DECIDED: dict[str, Any] = {
    "version": "1",
    "service_id": SERVICE,
    "endpoint_id": ENDPOINT,
    "account": CONSUMER,
    "region": "us-east-1",
    "origin": "notification",
    "decision": "accept",
    "rule": "payments-prod",
    "reason": "rule payments-prod matched: account 111122223333, tags env=prod",
    "missing_facts": [],
    "unknown_reasons": {},
    "rules": [
        {
            "name": "payments-prod",
            "decision": "accept",
            "status": "matched",
            "file": "policies/orders.yaml",
            "unknown_facts": [],
        }
    ],
    "policy_hash": "3f2a9c0d1e4b5a67",
    "dry_run": False,
    "action": {"type": "accept", "result": "succeeded", "error": None},
    "state_before": "pendingAcceptance",
    "state_after": "pending",
    "security_groups": {"consumer_endpoint": {"ports": [443]}},
    "notify": ["ops", "payments-team"],
    "vpc_id": "vpc-0abc1234def567890",
    "vpc_cidrs": ["10.10.0.0/16", "2600:1f18:1234:5600::/56"],
    "revocation": None,
    "created_at": "2025-03-04T09:59:58Z",
    "decided_at": "2025-03-04T10:00:02.512000Z",
    "correlation_id": "5a6f0c1e-7d55-5c4f-9a0e-1e6f3c2b9d11",
}

_STATE_CHANGED: dict[str, Any] = {
    "version": "1",
    "service_id": SERVICE,
    "endpoint_id": ENDPOINT,
    "account": CONSUMER,
    "region": "us-east-1",
    "state": "deleted",
    "event_type": "Delete",
    "found": True,
    "correlation_id": "0e1d2c3b-4a59-5867-9a0b-c1d2e3f40516",
}


def decided(**overrides: Any) -> dict[str, Any]:
    detail = copy.deepcopy(_DECIDED)
    detail.update(overrides)
    return detail


def state_changed(**overrides: Any) -> dict[str, Any]:
    detail = copy.deepcopy(_STATE_CHANGED)
    detail.update(overrides)
    return detail


def envelope(
    detail_type: str,
    detail: Mapping[str, Any],
    *,
    source: str = "privatelink-acceptor",
    event_id: str = "7e3b7f3c-2b7a-4c1e-8f0e-4d0b8a2f6c11",
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": PROVIDER,
        "time": "2025-03-04T10:00:03Z",
        "region": "us-east-1",
        "resources": [],
        "detail": dict(detail),
    }


def console_user() -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEID0000001:alice@example.com",
        "arn": f"arn:aws:sts::{PROVIDER}:assumed-role/{SSO_ROLE}/alice@example.com",
        "accountId": PROVIDER,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID0000001",
                "arn": f"arn:aws:iam::{PROVIDER}:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}",
                "accountId": PROVIDER,
                "userName": SSO_ROLE,
            },
            "attributes": {"creationDate": "2025-03-04T09:12:00Z", "mfaAuthenticated": "false"},
        },
    }


def acceptor_identity(role_arn: str = DECIDE_ROLE) -> dict[str, Any]:
    name = role_arn.rsplit("/", 1)[1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEID0000002:{DECIDE_SESSION}",
        "arn": f"arn:aws:sts::{PROVIDER}:assumed-role/{name}/{DECIDE_SESSION}",
        "accountId": PROVIDER,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID0000002",
                "arn": role_arn,
                "accountId": PROVIDER,
                "userName": name,
            },
            "attributes": {"creationDate": "2025-03-04T09:59:00Z", "mfaAuthenticated": "false"},
        },
    }


def cloudtrail(
    event_name: str = "AcceptVpcEndpointConnections",
    *,
    identity: Mapping[str, Any] | None = None,
    request: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The `detail` of an "AWS API Call via CloudTrail" event for an EC2 call."""
    if request is None:
        request = {
            f"{event_name}Request": {
                "ServiceId": SERVICE,
                "VpcEndpointId": {"tag": 1, "content": ENDPOINT},
            }
        }
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": dict(identity if identity is not None else console_user()),
        "eventTime": "2025-03-04T10:15:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "AWS Internal",
        "requestParameters": dict(request),
        "responseElements": None,
        "requestID": "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901",
        "eventID": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": PROVIDER,
        "eventCategory": "Management",
    }
    detail.update(extra)
    return detail


def policy(*files: tuple[str, Mapping[str, Any]]) -> PolicySet:
    return PolicySet.from_documents(
        PolicyDocument(path=path, model=PolicyFile.model_validate(content))
        for path, content in files
    )


def orders_policy() -> PolicySet:
    """Two files: orders (governs SERVICE, file-level channel `ops`) and a catch-all audit file."""
    return policy(
        (
            "policies/orders.yaml",
            {
                "version": 1,
                "services": [SERVICE],
                "notify": ["ops"],
                "rules": [
                    {
                        "name": "payments-prod",
                        "decision": "accept",
                        "when": {"accounts": [CONSUMER]},
                        "notify": ["payments-team"],
                    }
                ],
                "notifications": {
                    "ops": {"type": "slack", "webhook_secret": "privatelink-acceptor/slack-ops"},
                    "payments-team": {
                        "type": "teams",
                        "webhook_parameter": "/privatelink-acceptor/teams-payments",
                    },
                    "security": {"type": "sns"},
                },
            },
        ),
        (
            "policies/audit.yaml",
            {
                "version": 1,
                "services": ["*"],
                "notify": ["audit"],
                "notifications": {
                    "audit": {
                        "type": "webhook",
                        "webhook_secret": "privatelink-acceptor/audit-hook",
                    }
                },
            },
        ),
    )
