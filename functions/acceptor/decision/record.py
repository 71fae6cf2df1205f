"""The Decided event detail and the decision record of one `Decision`, bounded in size.

Both list the rules that matched or are unknown, up to `MAX_LISTED_RULES`, and always the
deciding rule; `rules_omitted` counts the matched or unknown rules left out and
`rules_unmatched` the unmatched ones. So a record stays well under DynamoDB's 400 KB item
limit and an event under PutEvents' 256 KB whatever the policy size (docs/events.md); the full
list is reproducible with `acceptor policy explain` at the recorded `policy_hash`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from acceptor.contract import CONTRACT_VERSION, Action, DecidedDetail
from acceptor.decision.decide_one import Decision
from acceptor.policy.evaluate import Evaluation, RuleOutcome

MAX_LISTED_RULES = 50


def listed_rules(evaluation: Evaluation | None) -> tuple[list[RuleOutcome], int]:
    """The rules a record lists (in policy order, the deciding one always among them) and how
    many matched or unknown rules it leaves out."""
    if evaluation is None:
        return [], 0
    rules = evaluation.rules
    if len(rules) <= MAX_LISTED_RULES:
        return list(rules), 0
    shown = list(rules[:MAX_LISTED_RULES])
    deciding = evaluation.deciding_outcome
    if deciding is not None and deciding.position > shown[-1].position:
        shown[-1] = deciding
    return shown, len(rules) - len(shown)


def decided_json(
    decision: Decision,
    *,
    action: Action,
    state_after: str | None,
    dry_run: bool,
    decided_at: datetime,
    policy_hash: str,
) -> dict[str, Any]:
    """The Decided detail in its JSON form, built directly: the record and the event are this
    dict, so a decision does not pay for a model it would dump again at once. It is exactly
    `DecidedDetail(...).model_dump(mode="json")` (pinned by tests/unit/test_decide_record.py);
    the event is validated against `DecidedDetail` when it is published."""
    request, connection, gathered = decision.request, decision.connection, decision.gathered
    evaluation = decision.evaluation
    facts = gathered.facts if gathered is not None else None
    shown, omitted = listed_rules(evaluation)
    groups = decision.security_groups
    return {
        "version": CONTRACT_VERSION,
        "service_id": request.service_id,
        "endpoint_id": request.endpoint_id,
        "account": connection.account if connection is not None else request.account,
        "region": connection.region if connection is not None else request.region,
        "origin": request.origin,
        "decision": decision.decision,
        "rule": decision.rule,
        "reason": decision.reason,
        "missing_facts": list(evaluation.missing_facts) if evaluation is not None else [],
        "unknown_reasons": dict(facts.unknown_reasons) if facts is not None else {},
        "rules": [outcome.record for outcome in shown],
        "rules_omitted": omitted,
        "rules_unmatched": evaluation.unmatched if evaluation is not None else 0,
        "policy_hash": policy_hash,
        "dry_run": dry_run,
        "action": {"type": action.type, "result": action.result, "error": action.error},
        "state_before": connection.state if connection is not None else None,
        "state_after": state_after,
        "security_groups": None if groups is None else json.loads(groups),
        "notify": list(decision.notify),
        "vpc_id": facts.vpc_id if facts is not None else None,
        "vpc_cidrs": list(gathered.vpc_cidrs)
        if gathered is not None and gathered.vpc_cidrs is not None
        else None,
        "revocation": decision.revocation,
        "approved_by": decision.approved_by,
        "approval_reason": decision.approval_reason,
        "hold_expires_at": _time(decision.hold_expires_at),
        "created_at": _time(
            connection.created_at if connection is not None else request.created_at
        ),
        "decided_at": _time(decided_at),
        "correlation_id": request.correlation_id,
    }


def decided_detail(
    decision: Decision,
    *,
    action: Action,
    state_after: str | None,
    dry_run: bool,
    decided_at: datetime,
    policy_hash: str,
) -> DecidedDetail:
    """`decided_json` as the contract's model."""
    return DecidedDetail.model_validate(
        decided_json(
            decision,
            action=action,
            state_after=state_after,
            dry_run=dry_run,
            decided_at=decided_at,
            policy_hash=policy_hash,
        )
    )


def _time(value: datetime | None) -> str | None:
    """As pydantic writes an aware time in JSON: UTC, `Z`, microseconds only when there are."""
    if value is None:
        return None
    return _utc_text(value)


@lru_cache(maxsize=256)
def _utc_text(value: datetime) -> str:
    # Remembered: a batch's records share their `decided_at`, a connection's records their
    # `created_at` and `hold_expires_at`. Equal times (whatever their zone) have one UTC text.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def decision_record(
    detail: Mapping[str, Any], decision: Decision, decided_at: datetime, ttl: timedelta
) -> dict[str, Any]:
    """One decision-log item: the detail (JSON form) plus the facts, keyed and with its TTL."""
    item = dict(detail)
    item["kind"] = "decision"
    # The key of the table's sparse `by-service` index (template.yaml): decisions only.
    item["decision_service_id"] = detail["service_id"]
    gathered = decision.gathered
    item["facts"] = gathered.facts.to_dict() if gathered is not None else None
    item["expires_at"] = int((decided_at + ttl).timestamp())
    return item


def latency_ms(detail: DecidedDetail) -> float | None:
    if detail.created_at is None:
        return None
    return max(0.0, (detail.decided_at - detail.created_at).total_seconds() * 1000)
