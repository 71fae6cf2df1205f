"""The handlers' boundaries, offline: fail closed on a bad policy, raise on garbage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from acceptor.handlers import decide, ingest, reconcile
from acceptor.notification import UnparseableNotification
from acceptor.policy.errors import PolicyValidationError
from helpers.aws import LambdaContext

EVENTS = Path(__file__).parents[3] / "events"

INVALID_POLICY = """\
version: 1
services: ["*"]
rules:
  - name: numbers
    decision: accept
    when: {accounts: [111122223333]}
"""


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.fixture
def invalid_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "acceptor.yaml").write_text(INVALID_POLICY)
    monkeypatch.setenv("POLICY_PATH", str(folder))
    return folder


def test_decide_with_an_invalid_policy_fails_the_whole_batch(
    invalid_policy: Path, lambda_context: LambdaContext
) -> None:
    with pytest.raises(PolicyValidationError) as raised:
        decide.handler(event("decide-sqs-batch.json"), lambda_context)

    assert "acceptor.yaml:6" in str(raised.value)


def test_reconcile_with_an_invalid_policy_fails(
    invalid_policy: Path, lambda_context: LambdaContext
) -> None:
    with pytest.raises(PolicyValidationError):
        reconcile.handler(event("reconcile-schedule.json"), lambda_context)


def test_ingest_unparseable_notification_raises_and_logs_the_body(
    lambda_context: LambdaContext, logged: Callable[[], list[dict[str, Any]]]
) -> None:
    sns = event("ingest-sns-unparseable.json")

    with pytest.raises(UnparseableNotification):
        ingest.handler(sns, lambda_context)

    (error,) = [line for line in logged() if line["level"] == "ERROR"]
    assert error["message_id"] == sns["Records"][0]["Sns"]["MessageId"]
    assert error["body"] == sns["Records"][0]["Sns"]["Message"]


def test_ingest_refuses_an_event_that_is_not_sns_with_the_domain_error(
    lambda_context: LambdaContext,
) -> None:
    with pytest.raises(UnparseableNotification):
        ingest.handler(event("reconcile-schedule.json"), lambda_context)
