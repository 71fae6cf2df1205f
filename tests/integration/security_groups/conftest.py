"""SecurityGroupsFunction on the local AWS with two accounts (see sg_world.py), invoked through
its real handler with the environment template.yaml gives it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from sg_world import (
    BUS,
    DECISION_TABLE,
    EXTERNAL_ID,
    PROVIDER,
    REGION,
    ROLE_NAME,
    RULE_TABLE,
    Invoke,
    SgWorld,
    build_world,
)

from acceptor.aws.clients import use_clients
from acceptor.handlers import security_groups as sg_handler
from acceptor_tools.local_aws.extension import install
from acceptor_tools.replay.runtime import LambdaContext
from helpers.aws import FAKE_CREDENTIALS

ENVIRONMENT = {
    **FAKE_CREDENTIALS,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MOTO_ACCOUNT_ID": PROVIDER,
    "POWERTOOLS_SERVICE_NAME": "privatelink-acceptor",
    "POWERTOOLS_METRICS_NAMESPACE": "PrivateLinkAcceptor",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # moto builds every EC2 backend with thousands of sample AMIs unless told not to.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    # What template.yaml sets for SecurityGroupsFunction.
    "DRY_RUN": "false",
    "EVENT_BUS_NAME": BUS,
    "DECISION_TABLE": DECISION_TABLE,
    "DECISION_TTL_DAYS": "400",
    "SECURITY_GROUP_RULE_TABLE": RULE_TABLE,
    "CONSUMER_ROLE_NAME": ROLE_NAME,
    "CONSUMER_ROLE_EXTERNAL_ID": EXTERNAL_ID,
}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, clean_aws_environment: None) -> Iterator[SgWorld]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    # Metrics read their namespace when the module is imported, which may precede this fixture.
    monkeypatch.setattr(sg_handler.metrics, "namespace", "PrivateLinkAcceptor")
    install()
    with mock_aws():
        built = build_world()
        use_clients(built.clients)
        try:
            yield built
        finally:
            use_clients(None)


@pytest.fixture
def invoke(world: SgWorld) -> Invoke:
    def call(event: Any) -> dict[str, Any]:
        context = LambdaContext(
            function_name="privatelink-acceptor-SecurityGroupsFunction-AbC",
            invoked_function_arn=(
                f"arn:aws:lambda:{REGION}:{PROVIDER}:function:"
                "privatelink-acceptor-SecurityGroupsFunction-AbC"
            ),
            memory_limit_in_mb=256,
            timeout_seconds=60,
        )
        result: dict[str, Any] = sg_handler.handler(event, context)  # type: ignore[arg-type]
        return result

    return call
