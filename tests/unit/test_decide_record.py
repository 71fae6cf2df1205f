"""The Decided detail and the decision record built from a `decide_one` decision, and
their size bound."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acceptor.contract import Action, DecidedDetail, RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.decide_one import Decision, decide_one
from acceptor.decision.gather import ConsumerFacts, OrgFacts, facts_for
from acceptor.decision.record import (
    MAX_LISTED_RULES,
    decided_detail,
    decided_json,
    decision_record,
    latency_ms,
)
from acceptor.decision.records import NO_RECORDS
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


def build(
    consumer: ConsumerFacts, action: Action | None = None, policy: PolicySet = POLICY
) -> tuple[Any, Decision]:
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
    decision = decide_one(request, connection, gathered, NO_RECORDS, policy, NOW)
    detail = decided_detail(
        decision,
        action=action or Action(type=decision.action, result="succeeded"),
        state_after="available",
        dry_run=False,
        decided_at=NOW,
        policy_hash=policy.version_hash,
    )
    return detail, decision


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
        "consumer_endpoint": {"ports": [443], "allow_shared_groups": False}
    }
    assert detail.notify == ["ops", "security"], "file channels first, each once"
    assert detail.vpc_id == "vpc-0abc1234def567890"
    assert detail.vpc_cidrs == ["10.10.0.0/16", "2600:1f18:1234:5600::/56"]
    assert (detail.state_before, detail.state_after) == ("pendingAcceptance", "available")


def test_rules_list_leaves_out_unmatched_rules() -> None:
    detail, _ = build(KNOWN)

    assert [(r.name, r.status) for r in detail.rules] == [("payments", "matched")]
    assert (detail.rules_omitted, detail.rules_unmatched) == (0, 2)


def test_unknown_consumer_facts_hold_and_are_named_with_their_reason() -> None:
    detail, _ = build(ConsumerFacts.unknown("no consumer role configured"))

    assert detail.decision == "hold"
    assert detail.security_groups is None
    assert detail.vpc_cidrs is None
    assert "tags" in detail.missing_facts
    assert detail.unknown_reasons["tags"] == "no consumer role configured"
    assert {r.name: r.status for r in detail.rules} == {"payments": "unknown", "sandbox": "unknown"}


def test_decision_record_keeps_facts_and_expires_after_the_ttl() -> None:
    detail, decision = build(KNOWN)

    record = decision_record(detail.model_dump(mode="json"), decision, NOW, timedelta(days=400))

    assert record["endpoint_id"] == ENDPOINT
    assert record["decided_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert record["facts"]["vpc_tags"] == {"tier": "private"}
    assert record["facts"]["unknown_reasons"] == {"ou_path": "Organizations access is off"}
    assert record["expires_at"] == int((NOW + timedelta(days=400)).timestamp())
    assert record["kind"] == "decision"


def test_latency_runs_from_the_connection_creation() -> None:
    detail, _ = build(KNOWN)

    assert latency_ms(detail) == pytest.approx(3000)


def huge_policy(rules: int) -> PolicySet:
    """`rules` accept rules that all match one account, then a reject rule that matches too."""
    listed: list[dict[str, Any]] = [
        {
            "name": f"allow-{n:05d}-with-a-long-name-to-fill-the-record",
            "decision": "accept",
            "when": {"accounts": ["111122223333"], "regions": ["us-east-1"]},
        }
        for n in range(rules)
    ]
    listed.append({"name": "last-word", "decision": "reject", "when": {"regions": ["us-east-1"]}})
    content = {"version": 1, "services": ["*"], "rules": listed}
    document = PolicyDocument("policies/huge.yaml", PolicyFile.model_validate(content))
    return PolicySet.from_documents([document])


def test_record_and_event_of_a_10000_rule_decision_stay_under_64_kb() -> None:
    # Given every one of 10,000 rules matching, and the deciding rule last of all
    policy = huge_policy(10_000)

    # When the decision is recorded
    detail, decision = build(KNOWN, policy=policy)
    record = decision_record(detail.model_dump(mode="json"), decision, NOW, timedelta(days=400))

    # Then record and event list the cap of rules, the deciding one among them, and count the rest
    assert detail.rule == "last-word"
    assert len(detail.rules) == MAX_LISTED_RULES
    assert "last-word" in [r.name for r in detail.rules]
    assert detail.rules_omitted == 10_001 - MAX_LISTED_RULES
    assert len(json.dumps(record).encode()) < 64 * 1024
    assert len(detail.model_dump_json().encode()) < 64 * 1024


@pytest.mark.parametrize(
    ("consumer", "created", "origin", "state"),
    [
        (KNOWN, CREATED, "notification", "pendingAcceptance"),
        (
            ConsumerFacts.unknown("no consumer role configured"),
            CREATED,
            "sweep",
            "pendingAcceptance",
        ),
        (KNOWN, CREATED.replace(microsecond=4500), "sweep", "pendingAcceptance"),
        (KNOWN, CREATED, "sweep", "available"),
    ],
    ids=["accept", "hold", "microseconds", "ignored"],
)
def test_decided_json_is_exactly_the_contracts_json_form(
    consumer: ConsumerFacts, created: datetime, origin: Any, state: str
) -> None:
    # Given decisions of every shape, built without the model
    connection = Connection(SERVICE, ENDPOINT, "111122223333", "us-east-1", state, created)
    request = RequestedDetail(
        service_id=SERVICE,
        endpoint_id=ENDPOINT,
        account="111122223333",
        region="us-east-1",
        state=state,
        created_at=created,
        origin=origin,
        correlation_id="msg-1",
    )
    gathered = facts_for(connection, consumer, OrgFacts.unknown("Organizations access is off"))
    decision = decide_one(request, connection, gathered, NO_RECORDS, POLICY, NOW)

    # When the JSON form is built directly
    built = decided_json(
        decision,
        action=Action(type=decision.action, result="dry-run"),
        state_after=None,
        dry_run=True,
        decided_at=NOW.replace(microsecond=123),
        policy_hash=POLICY.version_hash,
    )

    # Then it is what the contract's model validates and dumps, key for key
    assert DecidedDetail.model_validate(built).model_dump(mode="json") == built
    assert list(built) == list(DecidedDetail.model_fields)
