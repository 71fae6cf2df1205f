"""Fixtures of the local AWS's own tests (the general ones are in tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest
from local_aws_helpers import Inbox, subscribe_inbox

from acceptor_tools.local_aws import LocalAws


@pytest.fixture
def provider_ec2(local_aws: LocalAws) -> Any:
    return local_aws.client("ec2")


@pytest.fixture
def orders_inbox(local_aws: LocalAws) -> Inbox:
    topic = local_aws.world.services["orders-api"].notify_topic_arn
    assert topic is not None
    return subscribe_inbox(local_aws, topic)
