"""The Decided event detail and the decision record of one request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from acceptor.approval.model import terms_for
from acceptor.contract import Action, DecidedDetail, RequestedDetail, RuleStatus
from acceptor.decision.connection import Connection
from acceptor.decision.gather import RequestFacts
from acceptor.decision.verdict import Verdict
from acceptor.policy.evaluate import Evaluation
from acceptor.policy.model import Rule
from acceptor.policy.policy_set import PolicySet


def deciding_rule(policy: PolicySet, service_id: str, name: str | None) -> Rule | None:
    if name is None:
        return None
    for document in policy.governing(service_id):
        for rule in document.model.rules:
            if rule.name == name:
                return rule
    return None


def notify_channels(policy: PolicySet, service_id: str, rule: Rule | None) -> list[str]:
    """The governing files' channels, then the deciding rule's, each once."""
    names: list[str] = []
    for document in policy.governing(service_id):
        names.extend(document.model.notify)
    if rule is not None:
        names.extend(rule.notify)
    return list(dict.fromkeys(names))


def decided_detail(
    *,
    request: RequestedDetail,
    connection: Connection | None,
    gathered: RequestFacts | None,
    evaluation: Evaluation | None,
    verdict: Verdict,
    action: Action,
    state_after: str | None,
    policy: PolicySet,
    dry_run: bool,
    decided_at: datetime,
) -> DecidedDetail:
    rule = deciding_rule(policy, request.service_id, verdict.rule)
    groups = None
    opened = (
        terms_for(policy, request.service_id).security_groups
        if verdict.approved_by is not None
        else rule.security_groups
        if rule is not None
        else None
    )
    if verdict.decision == "accept" and opened is not None:
        groups = opened.model_dump(mode="json", exclude_none=True)
    facts = gathered.facts if gathered is not None else None
    return DecidedDetail(
        service_id=request.service_id,
        endpoint_id=request.endpoint_id,
        account=connection.account if connection is not None else request.account,
        region=connection.region if connection is not None else request.region,
        origin=request.origin,
        decision=verdict.decision,
        rule=verdict.rule,
        reason=verdict.reason,
        missing_facts=list(evaluation.missing_facts) if evaluation is not None else [],
        unknown_reasons=dict(facts.unknown_reasons) if facts is not None else {},
        rules=_rules(evaluation),
        policy_hash=policy.version_hash,
        dry_run=dry_run,
        action=action,
        state_before=connection.state if connection is not None else None,
        state_after=state_after,
        security_groups=groups,
        notify=notify_channels(policy, request.service_id, rule) if evaluation is not None else [],
        vpc_id=facts.vpc_id if facts is not None else None,
        vpc_cidrs=list(gathered.vpc_cidrs)
        if gathered is not None and gathered.vpc_cidrs is not None
        else None,
        revocation=verdict.revocation,
        approved_by=verdict.approved_by,
        approval_reason=verdict.approval_reason,
        created_at=connection.created_at if connection is not None else request.created_at,
        decided_at=decided_at,
        correlation_id=request.correlation_id,
    )


def _rules(evaluation: Evaluation | None) -> list[RuleStatus]:
    if evaluation is None:
        return []
    return [
        RuleStatus(
            name=outcome.name,
            decision=outcome.decision,
            status=outcome.status,
            file=outcome.file,
            unknown_facts=list(outcome.unknown_facts),
        )
        for outcome in evaluation.rules
        if outcome.status != "unmatched"
    ]


def decision_record(
    detail: DecidedDetail, gathered: RequestFacts | None, ttl: timedelta
) -> dict[str, Any]:
    """One decision-log item: the event detail plus the facts, keyed and with its TTL."""
    item: dict[str, Any] = detail.model_dump(mode="json")
    item["kind"] = "decision"
    # The key of the table's sparse `by-service` index (template.yaml): decisions only.
    item["decision_service_id"] = detail.service_id
    item["facts"] = gathered.facts.to_dict() if gathered is not None else None
    item["expires_at"] = int((detail.decided_at + ttl).timestamp())
    return item


def latency_ms(detail: DecidedDetail) -> float | None:
    if detail.created_at is None:
        return None
    return max(0.0, (detail.decided_at - detail.created_at).total_seconds() * 1000)
