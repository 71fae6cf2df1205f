"""The samples in events/ are real inputs: each runs through its handler on the local AWS, as
`sam local invoke -e events/<file>` would run it. Their IDs are not the local world's, so the
connections they name are not found: Decide leaves them alone, Ingest reports them gone, except
after a Connect (a new connection may not show yet: the sweep requests it once it does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handlers_stack import Stack

from acceptor.notification import UnparseableNotification

EVENTS = Path(__file__).resolve().parents[3] / "events"
POLICY = 'version: 1\nservices: ["*"]\ndefault: hold\n'


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def test_the_decide_batch_sample_decides_every_record_without_acting(stack: Stack) -> None:
    stack.policy(POLICY)
    stack.environment(MANAGED_SERVICE_IDS="")

    response = stack.decide(sample("decide-sqs-batch.json")["Records"])

    assert response == {"batchItemFailures": []}
    decided = [e["detail"] for e in stack.observed()]
    assert len(decided) == len(sample("decide-sqs-batch.json")["Records"])
    assert {d["decision"] for d in decided} == {"ignore"}
    assert not [c for c in stack.calls if c.operation.startswith(("Accept", "Reject"))]


SNS_SAMPLES = sorted(
    p.name for p in EVENTS.glob("ingest-sns-*.json") if "unparseable" not in p.name
)


@pytest.mark.parametrize("name", [n for n in SNS_SAMPLES if "connect" not in n])
def test_each_sns_sample_becomes_a_state_changed_event_for_a_connection_not_found(
    stack: Stack, name: str
) -> None:
    stack.ingest(sample(name))

    (changed,) = stack.observed()
    assert changed["detail-type"] == "Endpoint Connection State Changed"
    assert (changed["detail"]["found"], changed["detail"]["state"]) == (False, "deleted")


@pytest.mark.parametrize("name", [n for n in SNS_SAMPLES if "connect" in n])
def test_a_connect_sample_for_a_connection_not_found_puts_nothing_for_the_sweep(
    stack: Stack, name: str
) -> None:
    stack.ingest(sample(name))

    assert stack.observed() == [], "a Connect not shown yet is never 'deleted'"
    assert stack.requested() == []


def test_the_unparseable_sample_raises(stack: Stack) -> None:
    with pytest.raises(UnparseableNotification):
        stack.ingest(sample("ingest-sns-unparseable.json"))


def test_the_schedule_sample_sweeps_the_managed_services(stack: Stack) -> None:
    stack.policy(POLICY)
    stack.aws.create_endpoints()

    report = stack.reconcile(event=sample("reconcile-schedule.json"))

    assert report["requested"] == len(stack.requested()) == 5
