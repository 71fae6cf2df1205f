"""SecurityGroupsFunction: open what an accepted connection needs, remove ours when it ends.

Invoked asynchronously by two rules of the acceptor's bus: "Endpoint Connection Decided"
(accept: add; reject: remove) and "Endpoint Connection State Changed" (rejected or deleted:
remove). What was added, removed, skipped or refused goes back on the bus as "Endpoint
Connection Security Groups Updated" and into the decision log. A domain refusal (a shared group,
unknown CIDRs, a denied write) is reported, not raised; any other error raises, so Lambda
retries the event and then dead-letters it (adding or removing again is a no-op).
docs/security-groups.md describes the behaviour.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from acceptor.aws.bus import Bus
from acceptor.aws.clients import AwsClients, default_clients, partition_of
from acceptor.aws.consumer import ConsumerReader
from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.rule_records import RuleRecordTable
from acceptor.aws.security_groups import ProviderSecurityGroups, consumer_access
from acceptor.contract import (
    DecidedEvent,
    DetailType,
    SecurityGroupsUpdatedDetail,
    StateChangedEvent,
    security_groups_updated,
)
from acceptor.flows.telemetry import count, logger, metrics, tracer
from acceptor.policy.model import SecurityGroups
from acceptor.security_groups.add import add_rules
from acceptor.security_groups.model import Operation, Report
from acceptor.security_groups.ports import Adapters, Request
from acceptor.security_groups.remove import remove_rules
from acceptor.security_groups.triggers import Trigger, operation_for
from acceptor.settings import SecurityGroupsSettings as Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SESSION_NAME = "privatelink-acceptor-security-groups"
LOG_KIND = "security-groups"

OPERATIONS: dict[Operation, Callable[[Request, Adapters], Report]] = {
    "add": add_rules,
    "remove": remove_rules,
}


class MissingRuleTable(RuntimeError):
    """Without the rule table, rules we add could never be told from others' and removed."""


class UnexpectedEvent(ValueError):
    """An event of a detail type this function has no rule for: a wiring mistake."""


@dataclass(frozen=True)
class Home:
    """This function's account and region: where the provider's groups are."""

    account: str
    region: str


@dataclass(frozen=True)
class Dependencies:
    adapters: Adapters
    bus: Bus
    decision_log: DecisionLog | None
    home: Home
    clock: Callable[[], datetime]


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environ(os.environ)
    return update(event, settings, dependencies(settings, default_clients(), context))


def update(event: Mapping[str, Any], settings: Settings, deps: Dependencies) -> dict[str, Any]:
    trigger, request, correlation_id = read_event(event, settings, deps.home)
    logger.append_keys(
        endpoint_id=request.endpoint_id,
        service_id=request.service_id,
        account=request.account,
        trigger=trigger.name,
        correlation_id=correlation_id,
    )
    operation, why = operation_for(trigger)
    if operation is None:
        count("SecurityGroupEventsIgnored")
        logger.info("Event needs no security-group change", extra={"reason": why})
        return {"status": "ignored", "reason": why}

    report = OPERATIONS[operation](request, deps.adapters)
    if not report.groups and not report.findings:
        # A reject of a connection we never opened anything for, or an accept without
        # security_groups: nothing happened, so nothing is published or logged.
        count("SecurityGroupEventsIgnored")
        logger.info("No security group concerns this connection", extra={"reason": why})
        return {"status": "nothing-to-do", "reason": why}

    now = deps.clock()
    # Validated against the bus contract before anything is written: a detail that does not
    # follow it fails here, and the retry changes nothing in the groups (idempotent).
    updated = SecurityGroupsUpdatedDetail.model_validate(
        report.to_detail(correlation_id=correlation_id, updated_at=now.isoformat())
    )
    detail = updated.to_event_detail()
    if deps.decision_log is not None:
        deps.decision_log.write([_log_item(detail, now, settings.decision_ttl_days)])
    deps.bus.put([security_groups_updated(updated, _resources(report, deps))])
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


def read_event(
    event: Mapping[str, Any], settings: Settings, home: Home
) -> tuple[Trigger, Request, str]:
    """Parse the event with the contract's model of its detail type into a trigger and a
    request. An unknown detail type raises: no rule of this function should have sent it."""
    detail_type = str(event.get("detail-type", ""))
    reader = READERS.get(detail_type)
    if reader is None:
        raise UnexpectedEvent(f"SecurityGroupsFunction has no use for {detail_type!r} events")
    return reader(event, settings, home)


def _read_decided(
    event: Mapping[str, Any], settings: Settings, home: Home
) -> tuple[Trigger, Request, str]:
    d = DecidedEvent.model_validate(event).detail
    trigger = Trigger(DetailType.DECIDED, d.decision, d.action.result, d.state_after)
    spec = None if d.security_groups is None else SecurityGroups.model_validate(d.security_groups)
    request = Request(
        endpoint_id=d.endpoint_id,
        service_id=d.service_id,
        account=d.account,
        region=d.region,
        provider_account=home.account,
        provider_region=home.region,
        trigger=trigger.name,
        dry_run=settings.dry_run or d.dry_run,
        spec=spec,
        decided_cidrs=None if d.vpc_cidrs is None else tuple(d.vpc_cidrs),
    )
    return trigger, request, d.correlation_id


def _read_state_changed(
    event: Mapping[str, Any], settings: Settings, home: Home
) -> tuple[Trigger, Request, str]:
    d = StateChangedEvent.model_validate(event).detail
    trigger = Trigger(DetailType.STATE_CHANGED, state=d.state)
    request = Request(
        endpoint_id=d.endpoint_id,
        service_id=d.service_id,
        account=d.account,
        region=d.region,
        provider_account=home.account,
        provider_region=home.region,
        trigger=trigger.name,
        dry_run=settings.dry_run,
    )
    return trigger, request, d.correlation_id


EventReader = Callable[[Mapping[str, Any], Settings, Home], tuple[Trigger, Request, str]]
READERS: dict[str, EventReader] = {
    DetailType.DECIDED: _read_decided,
    DetailType.STATE_CHANGED: _read_state_changed,
}


def dependencies(settings: Settings, clients: AwsClients, context: LambdaContext) -> Dependencies:
    """Built per invocation: consumer-role sessions last 15 minutes, environments much longer
    (the boto3 clients behind them are cached by `clients`)."""
    if settings.security_group_rule_table is None:
        raise MissingRuleTable(
            "SECURITY_GROUP_RULE_TABLE is not set: without it the rules this function adds "
            "could never be removed, so it adds none"
        )
    account, region = _home(context.invoked_function_arn)
    reader = ConsumerReader(
        clients,
        settings.consumer_role_name,
        settings.consumer_external_id,
        session_name=SESSION_NAME,
    )
    return Dependencies(
        adapters=Adapters(
            provider=ProviderSecurityGroups(clients.ec2(), clients.client("elbv2")),
            consumer=consumer_access(
                reader,
                ConsumerReader(
                    clients,
                    settings.consumer_write_role,
                    settings.consumer_external_id,
                    session_name=SESSION_NAME,
                ),
            ),
            records=RuleRecordTable(clients.dynamodb(), settings.security_group_rule_table),
            new_claim=lambda: uuid.uuid4().hex,
        ),
        bus=Bus(clients.events(), settings.event_bus_name),
        decision_log=None
        if settings.decision_table is None
        else DecisionLog(clients.dynamodb(), settings.decision_table),
        home=Home(account, region),
        clock=lambda: datetime.now(UTC),
    )


def _home(function_arn: str) -> tuple[str, str]:
    """This function's account and region, from its ARN (arn:aws:lambda:REGION:ACCOUNT:...)."""
    parts = function_arn.split(":")
    if len(parts) < 5 or not parts[3] or not parts[4]:
        raise ValueError(f"not a Lambda function ARN: {function_arn!r}")
    return parts[4], parts[3]


def _log_item(detail: Mapping[str, Any], now: datetime, ttl_days: int) -> dict[str, Any]:
    """The decision-log item: beside the connection's decisions, sorted by time; the suffix
    keeps it from replacing a decision written at the same instant."""
    return {
        **detail,
        "decided_at": f"{now.isoformat()}#{LOG_KIND}",
        "kind": LOG_KIND,
        "expires_at": int((now + timedelta(days=ttl_days)).timestamp()),
    }


def _resources(report: Report, deps: Dependencies) -> tuple[str, ...]:
    """ARNs of the groups this event is about (provider groups only: consumer ARNs would name
    accounts that other subscribers of the bus need not learn)."""
    prefix = f"arn:{partition_of(deps.home.region)}:ec2:{deps.home.region}"
    return tuple(
        f"{prefix}:{deps.home.account}:security-group/{g.group_id}"
        for g in report.groups
        if g.side == "provider"
    )


def _count(report: Report) -> None:
    count("SecurityGroupUpdates")
    if not report.dry_run:
        count("SecurityGroupRulesAdded", sum(len(g.added) for g in report.groups))
        count("SecurityGroupRulesRemoved", sum(len(g.removed) for g in report.groups))
    count("SecurityGroupWarnings", len(report.findings))
    count("SecurityGroupFailures", sum(1 for g in report.groups if g.status == "failed"))
