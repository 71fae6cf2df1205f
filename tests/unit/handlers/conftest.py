"""Fixtures of the handler tests: no network, an offline AWS environment, a Lambda context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from acceptor.aws.clients import use_clients
from acceptor.flows.telemetry import logger
from acceptor.policy.loader import cached_policy
from helpers.aws import FAKE_CREDENTIALS, LambdaContext


@pytest.fixture(autouse=True)
def _offline(socket_disabled: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No network, fake credentials, and nothing cached between tests."""
    for name, value in {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        **FAKE_CREDENTIALS,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PrivateLinkAcceptor",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    use_clients(None)
    cached_policy.cache_clear()
    yield
    use_clients(None)
    cached_policy.cache_clear()


@pytest.fixture
def logged() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Reads back the JSON lines the Powertools logger wrote during the test."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        handler.setStream(previous)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
