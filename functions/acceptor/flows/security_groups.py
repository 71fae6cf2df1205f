"""SecurityGroupsFunction's flow: open what an accepted connection needs, remove ours when it
ends, acting only on what it re-reads (docs/security-groups.md).

Invoked asynchronously by two rules of the acceptor's bus: "Endpoint Connection Decided"
(accept: add; reject: remove) and "Endpoint Connection State Changed" (rejected or deleted:
remove). The event is a hint: the connection is re-read by its endpoint ID, the rule and its
`security_groups` come from the bundled policy, the CIDRs from the consumer's VPC
(`acceptor.security_groups.verify` judges). For an accept the event says a person approved,
the approval record is re-read from the approvals table and the groups are the policy's
`approval.security_groups`. An event the re-read does not bear out changes
nothing and is counted (`SecurityGroupEventsRefused`). What was added, removed, skipped or
refused goes back on the bus as "Endpoint Connection Security Groups Updated" and into the
decision log. A domain refusal (a shared group, unknown CIDRs, a denied write) is reported, not
raised; any other error raises, so Lambda retries the event and then dead-letters it (adding or
removing again is a no-op).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from acceptor.approval.model import ApprovalRecord
from acceptor.aws.bus import Bus
from acceptor.aws.clients import partition_of
from acceptor.aws.decision_log import DecisionLog
from acceptor.contract import (
    DecidedEvent,
    DetailType,
    SecurityGroupsUpdatedDetail,
    StateChangedEvent,
    security_groups_updated,
)
from acceptor.decision.connection import Connection
from acceptor.flows.telemetry import count, level_of, logger
from acceptor.policy.policy_set import PolicySet
from acceptor.security_groups.add import add_rules
from acceptor.security_groups.model import Operation, Report
from acceptor.security_groups.ports import Adapters, Request
from acceptor.security_groups.remove import remove_rules
from acceptor.security_groups.triggers import Trigger, operation_for
from acceptor.security_groups.verify import (
    AcceptClaim,
    Opening,
    Refusal,
    verify_accept,
    verify_gone,
)

LOG_KIND = "security-groups"
# EC2's default quota of inbound rules per security group (per IP version). A provider who
# raised it sets the alarm's threshold accordingly (docs/operations.md).
RULES_PER_GROUP = 60

# Metric names (the namespace and service are telemetry's).
UPDATES = "SecurityGroupUpdates"
IGNORED = "SecurityGroupEventsIgnored"
REFUSED = "SecurityGroupEventsRefused"
RULES_ADDED = "SecurityGroupRulesAdded"
RULES_REMOVED = "SecurityGroupRulesRemoved"
RULES_KEPT = "SecurityGroupRulesKeptForOthers"
WARNINGS = "SecurityGroupWarnings"
FAILURES = "SecurityGroupFailures"
HEADROOM = "ProviderGroupRuleHeadroom"
GROUP_DIMENSION = "GroupId"

OPERATIONS: dict[Operation, Callable[[Request, Adapters], Report]] = {
    "add": add_rules,
    "remove": remove_rules,
}


class UnexpectedEvent(ValueError):
    """An event of a detail type this function has no rule for: a wiring mistake."""


class ConnectionStillEnding(RuntimeError):
    """The re-read shows the connection `deleting`: not gone yet. Raised so that Lambda retries
    the event later; its rules stay until a re-read shows it gone."""


@dataclass(frozen=True)
class Home:
    """This function's account and region: where the provider's groups are."""

    account: str
    region: str


class ApprovalReader(Protocol):
    """The approvals table (`aws/approvals.py`), read for an accept a person approved."""

    def get(self, endpoint_id: str) -> ApprovalRecord | None: ...


@dataclass(frozen=True)
class SecurityGroupsDeps:
    adapters: Adapters
    bus: Bus
    decision_log: DecisionLog | None
    home: Home
    clock: Callable[[], datetime]
    managed: Callable[[str], frozenset[str]] | None = None
    """The stack's managed services, scanned (tags) knowing which service is asked about;
    None: not screened (tests of other checks)."""
    approvals: ApprovalReader | None = None
    """Read for a Decided accept that names an approver; without it (no APPROVAL_TABLE), no
    approved accept opens anything."""


@dataclass(frozen=True)
class Hint:
    """What an event names: the connection to look at and what it asks for."""

    trigger: Trigger
    endpoint_id: str
    correlation_id: str
    dry_run: bool
    claim: AcceptClaim | None = None
    """Only for a Decided event: the rule, approver and policy hash it names."""


def update_security_groups(
    event: Mapping[str, Any],
    policy: Callable[[], PolicySet],
    deps: SecurityGroupsDeps,
    *,
    dry_run: bool,
    ttl: timedelta,
) -> dict[str, Any]:
    """`policy` is loaded only to open rules: an invalid policy never keeps ours from going."""
    hint = read_event(event, dry_run=dry_run)
    logger.append_keys(
        endpoint_id=hint.endpoint_id, trigger=hint.trigger.name, correlation_id=hint.correlation_id
    )
    operation, why = operation_for(hint.trigger)
    if operation is None:
        count(IGNORED)
        logger.info("Event needs no security-group change", extra={"reason": why})
        return {"status": "ignored", "reason": why}

    connection = deps.adapters.provider.connection(hint.endpoint_id)
    if connection is not None:
        logger.append_keys(
            service_id=connection.service_id, account=connection.account, state=connection.state
        )
    verified = _verify(operation, hint, connection, policy, deps)
    if isinstance(verified, Refusal):
        count(REFUSED)
        logger.warning(
            "The re-read does not bear the event out: nothing is changed",
            extra={"refusal": verified.code, "reason": verified.reason},
        )
        return {"status": "refused", "refusal": verified.code, "reason": verified.reason}

    report = OPERATIONS[operation](verified, deps.adapters)
    if not report.groups and not report.findings:
        # A reject of a connection we never opened anything for, or an accept without
        # security_groups: nothing happened, so nothing is published or logged.
        count(IGNORED)
        logger.info("No security group concerns this connection", extra={"reason": why})
        return {"status": "nothing-to-do", "reason": why}

    result = _publish(report, operation, hint, deps, ttl)
    if operation == "add" and report.changed:
        _remove_if_ended(hint, deps, ttl)
    return result


def _publish(
    report: Report, operation: Operation, hint: Hint, deps: SecurityGroupsDeps, ttl: timedelta
) -> dict[str, Any]:
    now = deps.clock()
    # Validated against the bus contract before anything is written: a detail that does not
    # follow it fails here, and the retry changes nothing in the groups (idempotent).
    updated = SecurityGroupsUpdatedDetail.model_validate(
        report.to_detail(correlation_id=hint.correlation_id, updated_at=now.isoformat())
    )
    detail = updated.to_event_detail()
    if deps.decision_log is not None:
        deps.decision_log.write([_log_item(detail, now, ttl)])
    deps.bus.put([security_groups_updated(updated, _resources(report, deps.home))])
    _count(report)
    log = logger.warning if report.findings else logger.info
    log(
        "Security groups updated",
        extra={
            "operation": operation,
            "dry_run": report.dry_run,
            "groups": [g.to_dict() for g in report.groups],
            "warnings": [f.to_dict() for f in report.findings],
        },
    )
    return {"status": "planned" if report.dry_run else "done", **detail}


def _remove_if_ended(hint: Hint, deps: SecurityGroupsDeps, ttl: timedelta) -> None:
    """After rules are recorded, the connection is re-read once more: if it ended meanwhile,
    its removal may already have run before the records it would have needed existed
    (docs/security-groups.md, "Intents"), so what was just added is removed here. A removal
    that starts after this re-read reads the records written before it; one that finds the
    connection `deleting` waits for it to be gone, and so reads them too."""
    connection = deps.adapters.provider.connection(hint.endpoint_id)
    if verify_gone(hint.endpoint_id, connection) is not None:
        return
    logger.warning(
        "The connection ended while its rules were being added: they are removed again",
        extra={"state": None if connection is None else connection.state},
    )
    # As a State Changed event names it: what the re-read shows (not listed: deleted).
    trigger = f"state:{'deleted' if connection is None else connection.state}"
    request = _removal(hint.endpoint_id, connection, deps, trigger, dry_run=False)
    report = remove_rules(request, deps.adapters)
    if report.groups or report.findings:
        _publish(report, "remove", hint, deps, ttl)


def _removal(
    endpoint_id: str,
    connection: Connection | None,
    deps: SecurityGroupsDeps,
    trigger: str,
    dry_run: bool,
) -> Request:
    """The removal of an endpoint's rules, with what the re-read shows of its connection."""
    return Request(
        endpoint_id=endpoint_id,
        service_id=None if connection is None else connection.service_id,
        account=None if connection is None else connection.account,
        region=None if connection is None else connection.region,
        provider_account=deps.home.account,
        provider_region=deps.home.region,
        trigger=trigger,
        dry_run=dry_run,
    )


def read_event(event: Mapping[str, Any], *, dry_run: bool) -> Hint:
    """Parse the event with the contract's model of its detail type. An unknown detail type
    raises: no rule of this function should have sent it."""
    detail_type = str(event.get("detail-type", ""))
    reader = READERS.get(detail_type)
    if reader is None:
        raise UnexpectedEvent(f"SecurityGroupsFunction has no use for {detail_type!r} events")
    return reader(event, dry_run)


def _read_decided(event: Mapping[str, Any], dry_run: bool) -> Hint:
    d = DecidedEvent.model_validate(event).detail
    return Hint(
        trigger=Trigger(DetailType.DECIDED, d.decision, d.action.result, d.state_after),
        endpoint_id=d.endpoint_id,
        correlation_id=d.correlation_id,
        # An event may ask for less (a dry run), never for more.
        dry_run=dry_run or d.dry_run,
        claim=AcceptClaim(
            endpoint_id=d.endpoint_id,
            service_id=d.service_id,
            account=d.account,
            rule=d.rule,
            policy_hash=d.policy_hash,
            approved_by=d.approved_by,
        ),
    )


def _read_state_changed(event: Mapping[str, Any], dry_run: bool) -> Hint:
    d = StateChangedEvent.model_validate(event).detail
    return Hint(
        trigger=Trigger(DetailType.STATE_CHANGED, state=d.state),
        endpoint_id=d.endpoint_id,
        correlation_id=d.correlation_id,
        dry_run=dry_run,
    )


READERS: dict[str, Callable[[Mapping[str, Any], bool], Hint]] = {
    DetailType.DECIDED: _read_decided,
    DetailType.STATE_CHANGED: _read_state_changed,
}


def _verify(
    operation: Operation,
    hint: Hint,
    connection: Connection | None,
    policy: Callable[[], PolicySet],
    deps: SecurityGroupsDeps,
) -> Request | Refusal:
    """The request built from re-read facts only, or why the event is not borne out."""
    if operation == "remove":
        refusal = verify_gone(hint.endpoint_id, connection)
        # A dry run may plan the removal a (dry-run) reject would make: it changes nothing.
        if refusal is not None and not hint.dry_run:
            if connection is not None and connection.state == "deleting":
                raise ConnectionStillEnding(refusal.reason)
            return refusal
        return _removal(hint.endpoint_id, connection, deps, hint.trigger.name, hint.dry_run)
    if hint.claim is None:
        raise UnexpectedEvent("only a Decided accept may open rules")
    managed = None if deps.managed is None else deps.managed(hint.claim.service_id)
    approval = None
    if hint.claim.approved_by is not None and connection is not None and deps.approvals is not None:
        # The approval is read from its table, never taken from the event (which only names
        # the approver to look for).
        approval = deps.approvals.get(connection.endpoint_id)
    opening = verify_accept(
        hint.claim,
        connection,
        policy(),
        managed,
        planning=hint.dry_run,
        approval=approval,
        now=deps.clock(),
    )
    if isinstance(opening, Refusal):
        return opening
    return _opening_request(hint, opening, deps.home)


def _opening_request(hint: Hint, opening: Opening, home: Home) -> Request:
    c = opening.connection
    return Request(
        endpoint_id=c.endpoint_id,
        service_id=c.service_id,
        account=c.account,
        region=c.region,
        provider_account=home.account,
        provider_region=home.region,
        trigger=hint.trigger.name,
        dry_run=hint.dry_run,
        spec=opening.spec,
    )


def _log_item(detail: Mapping[str, Any], now: datetime, ttl: timedelta) -> dict[str, Any]:
    """The decision-log item: beside the connection's decisions, sorted by time; the suffix
    keeps it from replacing a decision written at the same instant."""
    return {
        **detail,
        "decided_at": f"{now.isoformat()}#{LOG_KIND}",
        "kind": LOG_KIND,
        "expires_at": int((now + ttl).timestamp()),
    }


def _resources(report: Report, home: Home) -> tuple[str, ...]:
    """ARNs of the groups this event is about (provider groups only: consumer ARNs would name
    accounts that other subscribers of the bus need not learn)."""
    prefix = f"arn:{partition_of(home.region)}:ec2:{home.region}"
    return tuple(
        f"{prefix}:{home.account}:security-group/{g.group_id}"
        for g in report.groups
        if g.side == "provider"
    )


def _count(report: Report) -> None:
    count(UPDATES)
    if not report.dry_run:
        count(RULES_ADDED, sum(len(g.added) for g in report.groups))
        count(RULES_REMOVED, sum(len(g.removed) for g in report.groups))
        count(RULES_KEPT, sum(len(g.kept) for g in report.groups))
    count(WARNINGS, len(report.findings))
    count(FAILURES, sum(1 for g in report.groups if g.status == "failed"))
    used: dict[str, int] = {}
    for g in report.groups:
        if g.side == "provider" and g.rules_used is not None:
            used[g.group_id] = max(used.get(g.group_id, 0), g.rules_used)
    for group_id, rules in sorted(used.items()):
        # One series per provider group touched, which the headroom alarm watches each of
        # (docs/operations.md, "Alarms").
        level_of(HEADROOM, RULES_PER_GROUP - rules, GROUP_DIMENSION, group_id)
        logger.info(
            "Provider group rule headroom",
            extra={"group_id": group_id, "rules_used": rules, "quota": RULES_PER_GROUP},
        )
