"""NotifyFunction against the local AWS (moto) and a real HTTP receiver on 127.0.0.1.

`capture` is an HTTP server on a free port that records every POST and answers what a test
tells it to (200 by default, an error status, a redirect, or a slow answer). `notify_world`
creates, inside `mock_aws`, what the function reads at run time: the webhook URLs in Secrets
Manager (plain and JSON) and SSM (SecureString), the stack's SNS topic with an SQS queue
subscribed to it, the idempotency table, and a policy folder; and it sets the function's
environment as template.yaml does. The provider's endpoint services exist with the IDs the
sample events name; the managed ones carry the acceptor's tag.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from notify_world import (
    AUDIT_PATH,
    DECIDE_ROLE,
    OTHER_SERVICE,
    PROVIDER,
    REGION,
    SERVICE,
    SLACK_PATH,
    TEAMS_PATH,
    UNMANAGED_SERVICE,
    CaptureServer,
    NotifyWorld,
    serving_capture,
    write_policy,
)

from acceptor.aws.clients import use_clients
from acceptor.flows import wiring
from acceptor.handlers import notify as notify_handler
from acceptor.managed import MANAGED_TAG, MANAGED_VALUE
from acceptor.policy.loader import cached_policy
from acceptor_tools.local_aws import moto_internals as moto
from helpers.aws import FAKE_CREDENTIALS, LambdaContext
from integration.stack_tables import create_table


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with serving_capture() as server:
        yield server


def _reset_caches() -> None:
    cached_policy.cache_clear()
    wiring.notify_deps.cache_clear()
    wiring.reset_managed_cache()
    use_clients(None)


def _endpoint_services(managed: tuple[str, ...], untagged: tuple[str, ...]) -> None:
    """The provider's endpoint services with the IDs the sample events name: the managed ones
    tagged for the acceptor (the tag scan decides which overrides alert), the others not."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    elbv2 = boto3.client("elbv2", region_name=REGION)
    for service_id in (*managed, *untagged):
        nlb = elbv2.create_load_balancer(
            Name=f"nlb-{service_id[-8:]}", Subnets=[subnet], Type="network", Scheme="internal"
        )["LoadBalancers"][0]["LoadBalancerArn"]
        created = ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True
        )["ServiceConfiguration"]["ServiceId"]
        moto.pin_endpoint_service_id(PROVIDER, REGION, created, service_id)
    ec2.create_tags(Resources=list(managed), Tags=[{"Key": MANAGED_TAG, "Value": MANAGED_VALUE}])


@pytest.fixture
def notify_world(
    capture: CaptureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NotifyWorld]:
    for name, value in {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOTO_ACCOUNT_ID": PROVIDER,
        "POWERTOOLS_SERVICE_NAME": "privatelink-acceptor",
        "POWERTOOLS_METRICS_NAMESPACE": "PrivateLinkAcceptor",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    # Metrics read their namespace when the module is imported, which may precede this fixture.
    monkeypatch.setattr(notify_handler.metrics, "namespace", "PrivateLinkAcceptor")
    with mock_aws():
        _reset_caches()
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(
            Name="privatelink-acceptor/slack-ops", SecretString=capture.url(SLACK_PATH)
        )
        secrets.create_secret(
            Name="privatelink-acceptor/audit-hook",
            SecretString=json.dumps({"url": capture.url(AUDIT_PATH), "owner": "security"}),
        )
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/privatelink-acceptor/teams-payments",
            Value=capture.url(TEAMS_PATH),
            Type="SecureString",
        )
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="privatelink-acceptor-notifications")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="notifications-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        table = "privatelink-acceptor-idempotency"
        create_table(boto3.client("dynamodb", region_name=REGION), "idempotency", table)
        _endpoint_services(managed=(SERVICE, OTHER_SERVICE), untagged=(UNMANAGED_SERVICE,))
        policy_dir = tmp_path / "policies"
        write_policy(policy_dir)
        for name, value in {
            "POLICY_PATH": str(policy_dir),
            "IDEMPOTENCY_TABLE": table,
            "NOTIFICATION_TOPIC_ARN": topic_arn,
            "ACCEPTOR_ROLE_ARNS": DECIDE_ROLE,
            "ORGANIZATIONS_ACCESS": "false",
            "WEBHOOK_TIMEOUT_SECONDS": "2",
        }.items():
            monkeypatch.setenv(name, value)
        try:
            yield NotifyWorld(capture, topic_arn, queue_url, table, policy_dir)
        finally:
            _reset_caches()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(
        function_name="privatelink-acceptor-NotifyFunction",
        memory_limit_in_mb=256,
        remaining_ms=30_000,
    )


@pytest.fixture
def function_logs() -> Iterator[io.StringIO]:
    """Everything NotifyFunction's Powertools logger writes, in its JSON format."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(notify_handler.logger.registered_formatter)
    target = logging.getLogger(notify_handler.logger.name)
    target.addHandler(handler)
    try:
        yield buffer
    finally:
        target.removeHandler(handler)
