"""The Decided detail and the decision record built from a verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acceptor.contract import Action, RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.gather import ConsumerFacts, OrgFacts, facts_for
from acceptor.decision.outcome import decided_detail, decision_record, latency_ms
from acceptor.decision.verdict import judge
from acceptor.policy.evaluate import evaluate
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

pytestmark = pytest.mark.disable_socket

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
CREATED = datetime(2025, 3, 4, 9, 59, 58, tzinfo=UTC)
NOW = CREATED + timedelta(seconds=3)

POLICY = PolicySet.from_documents(
    [
        PolicyDocument(
            "policies/acceptor.yaml",
            PolicyFile.model_validate(
                {
                    "version": 1,
                    "services": ["*"],
                    "notify": ["ops"],
                    "rules": [
                        {
                            "name": "payments",
                            "decision": "accept",
                            "when": {"accounts": ["111122223333"], "vpc_tags": {"tier": "*"}},
                            "security_groups": {"consumer_endpoint": {"ports": [443]}},
                            "notify": ["security", "ops"],
                        },
                        {
                            "name": "sandbox",
                            "decision": "reject",
                            "when": {"tags": {"env": "sandbox"}},
                        },
                        {
                            "name": "someone-else",
                            "decision": "accept",
                            "when": {"accounts": ["444455556666"]},
                        },
                    ],
                    "notifications": {"ops": {"type": "sns"}, "security": {"type": "sns"}},
                }
            ),
        )
    ]
)


def build(consumer: ConsumerFacts, action: Action | None = None) -> tuple[Any, Any]:
    connection = Connection(
        SERVICE, ENDPOINT, "111122223333", "us-east-1", "pendingAcceptance", CREATED
    )
    request = RequestedDetail(
        service_id=SERVICE,
        endpoint_id=ENDPOINT,
        account="111122223333",
        region="us-east-1",
        state="pendingAcceptance",
        created_at=CREATED,
        origin="notification",
        correlation_id="msg-1",
    )
    gathered = facts_for(connection, consumer, OrgFacts.unknown("Organizations access is off"))
    evaluation = evaluate(POLICY, gathered.facts)
    verdict = judge(request, connection, evaluation, POLICY, NOW)
    detail = decided_detail(
        request=request,
        connection=connection,
        gathered=gathered,
        evaluation=evaluation,
        verdict=verdict,
        action=action or Action(type=verdict.action, result="succeeded"),
        state_after="available",
        policy=POLICY,
        dry_run=False,
        decided_at=NOW,
    )
    return detail, gathered


KNOWN = ConsumerFacts(
    vpc_id="vpc-0abc1234def567890",
    tags={"env": "prod"},
    vpc_tags={"tier": "private"},
    vpc_cidrs=("10.10.0.0/16", "2600:1f18:1234:5600::/56"),
)


def test_accept_carries_the_rules_security_groups_channels_and_cidrs() -> None:
    detail, _ = build(KNOWN)

    assert detail.decision == "accept"
    assert detail.rule == "payments"
    assert detail.security_groups == {
        "consumer_endpoint": {"ports": [443], "allow_shared_groups": False},
        "max_cidrs": 5,
        "allow_public_cidrs": False,
    }
    assert detail.notify == ["ops", "security"], "file channels first, each once"
    assert detail.vpc_id == "vpc-0abc1234def567890"
    assert detail.vpc_cidrs == ["10.10.0.0/16", "2600:1f18:1234:5600::/56"]
    assert (detail.state_before, detail.state_after) == ("pendingAcceptance", "available")


def test_rules_list_leaves_out_unmatched_rules() -> None:
    detail, _ = build(KNOWN)

    assert [(r.name, r.status) for r in detail.rules] == [("payments", "matched")]


def test_unknown_consumer_facts_hold_and_are_named_with_their_reason() -> None:
    detail, _ = build(ConsumerFacts.unknown("no consumer role configured"))

    assert detail.decision == "hold"
    assert detail.security_groups is None
    assert detail.vpc_cidrs is None
    assert "tags" in detail.missing_facts
    assert detail.unknown_reasons["tags"] == "no consumer role configured"
    assert {r.name: r.status for r in detail.rules} == {"payments": "unknown", "sandbox": "unknown"}


def test_decision_record_keeps_facts_and_expires_after_the_ttl() -> None:
    detail, gathered = build(KNOWN)

    record = decision_record(detail, gathered, timedelta(days=400))

    assert record["endpoint_id"] == ENDPOINT
    assert record["decided_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert record["facts"]["vpc_tags"] == {"tier": "private"}
    assert record["facts"]["unknown_reasons"] == {"ou_path": "Organizations access is off"}
    assert record["expires_at"] == int((NOW + timedelta(days=400)).timestamp())
    assert record["kind"] == "decision"


def test_latency_runs_from_the_connection_creation() -> None:
    detail, _ = build(KNOWN)

    assert latency_ms(detail) == pytest.approx(3000)
