"""One neutral message per event, before any channel's format.

A `Message` is what a person should learn: a title, one or two sentences, labelled items in
reading order, the actions taken and their results, whether it was a dry run, and where to look
in the console. Renderers (`render.py`) only lay it out. Pure: everything is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from acceptor.contract import DecidedDetail, StateChangedDetail
from acceptor.notify.events import DECIDED, STATE_CHANGED
from acceptor.override import OverrideAlert

Severity = Literal["success", "info", "warning", "alert"]
Kind = Literal["decision", "state-change", "manual-override", "security-groups", "digest"]

SUBJECT_LIMIT = 99  # SNS: "must be less than 100 characters", ASCII, one line
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Item:
    label: str
    value: str


@dataclass(frozen=True)
class Message:
    kind: Kind
    dedup_key: str
    title: str
    short_title: str
    summary: str
    severity: Severity
    items: tuple[Item, ...]
    actions: tuple[str, ...]
    dry_run: bool
    console_url: str | None
    detail_type: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    log_keys: Mapping[str, str] = field(default_factory=dict)
    approvable: str | None = None
    """The endpoint a person may approve or reject from this message: a held request still
    pending (Slack channels with a `signing_secret` show buttons for it)."""


@dataclass(frozen=True)
class _Wording:
    done: str
    dry_run: str
    severity: Severity


_DECISIONS: dict[tuple[str, str | None], _Wording] = {
    ("accept", None): _Wording("Accepted", "Would accept (dry run)", "success"),
    ("reject", None): _Wording("Rejected", "Would reject (dry run)", "warning"),
    ("hold", None): _Wording("Held", "Held (dry run)", "warning"),
    ("ignore", None): _Wording("Ignored", "Ignored (dry run)", "info"),
    # Revocation is reported on one sweep and enforced on a later one (docs/events.md).
    ("reject", "reported"): _Wording(
        "Revocation reported (enforced on a later sweep)", "Would revoke (dry run)", "warning"
    ),
    ("reject", "enforced"): _Wording("Revoked", "Would revoke (dry run)", "alert"),
}

_ORIGINS: dict[str, str] = {
    "notification": "a connection notification",
    "sweep": "the periodic sweep",
    "hold-expired": "the sweep: the hold expired",
    "revocation": "the sweep: revocation check",
    "approval": "a person's approval",
}

# (headline, severity) of a connection that reached a state.
_STATES: dict[str, tuple[str, Severity]] = {
    "pendingAcceptance": ("Connection requested", "info"),
    "pending": ("Connection being accepted", "info"),
    "available": ("Connection available", "success"),
    "rejected": ("Connection rejected", "warning"),
    "expired": ("Connection request expired", "warning"),
    "failed": ("Connection failed", "alert"),
    "deleting": ("Endpoint being deleted", "info"),
    "deleted": ("Endpoint deleted", "info"),
}

# What an action's result means to a reader; the action type is put in front.
_RESULTS: dict[str, str] = {
    "succeeded": "succeeded",
    "failed": "FAILED",
    "skipped": "skipped",
    "dry-run": "not done (dry run)",
}

# Console host per partition, by region prefix; the commercial partition is the fallback.
_CONSOLE_HOSTS: tuple[tuple[str, str], ...] = (
    ("cn-", "console.amazonaws.cn"),
    ("us-gov-", "console.amazonaws-us-gov.com"),
)


def console_url(region: str | None, service_id: str | None) -> str | None:
    """The VPC console page of an endpoint service (its connections tab is one click away)."""
    if not region:
        return None
    host = next(
        (host for prefix, host in _CONSOLE_HOSTS if region.startswith(prefix)),
        f"{region}.console.aws.amazon.com",
    )
    anchor = (
        f"EndpointServiceDetails:endpointServiceId={service_id}"
        if service_id
        else "EndpointServices:"
    )
    return f"https://{host}/vpcconsole/home?region={region}#{anchor}"


def account_label(account: str | None, name: str | None) -> str:
    if not account:
        return UNKNOWN
    return f"{account} ({name})" if name else account


def decision_message(
    decided: DecidedDetail,
    *,
    provider_region: str | None,
    account_name: str | None,
    detail: Mapping[str, Any] | None = None,
) -> Message:
    wording = _wording(decided)
    headline = wording.dry_run if decided.dry_run else wording.done
    severity = wording.severity
    action = decided.action
    if action.result == "failed":
        headline = f"{action.type.capitalize()} FAILED"
        severity = "alert"
    account = account_label(decided.account, account_name)
    title = f"{headline}: {decided.endpoint_id} from {account} to {decided.service_id}"
    action_line = _action_line(action.type, action.result, action.error)
    items: tuple[Item, ...] = (
        Item("Service", decided.service_id),
        Item("Endpoint", decided.endpoint_id),
        Item("Consumer account", account),
        Item("Consumer VPC", decided.vpc_id or UNKNOWN),
        Item("VPC CIDRs", ", ".join(decided.vpc_cidrs) if decided.vpc_cidrs else UNKNOWN),
        Item("Consumer region", decided.region or UNKNOWN),
        Item("Decision", decided.decision),
        Item("Rule", decided.rule or "none (the policy's default)"),
        Item("Reason", decided.reason or "none recorded"),
        Item("Missing facts", _missing(decided.missing_facts, decided.unknown_reasons)),
        Item("Action", action_line),
        Item("State", _transition(decided.state_before, decided.state_after)),
        Item("Requested by", _ORIGINS.get(decided.origin, decided.origin)),
        Item("Policy version", decided.policy_hash or UNKNOWN),
        Item("Dry run", "yes: nothing was changed" if decided.dry_run else "no"),
    )
    if decided.approved_by is not None:
        items += (
            Item("Decided by", decided.approved_by),
            Item("Their reason", decided.approval_reason or "none given"),
        )
    held = (
        decided.decision == "hold"
        and not decided.dry_run
        and decided.state_after == "pendingAcceptance"
    )
    decided_at = decided.decided_at.isoformat()
    return Message(
        kind="decision",
        dedup_key=f"decided:{decided.endpoint_id}:{decided.decision}:{decided_at}",
        title=title,
        short_title=subject(f"{headline}: {decided.endpoint_id}"),
        summary=decided.reason or f"{headline}.",
        severity=severity,
        items=items,
        actions=(action_line,),
        dry_run=decided.dry_run,
        console_url=console_url(provider_region, decided.service_id),
        detail_type=DECIDED,
        detail=dict(detail) if detail is not None else decided.to_event_detail(),
        log_keys=_keys(
            service_id=decided.service_id,
            endpoint_id=decided.endpoint_id,
            account=decided.account,
            decision=decided.decision,
            rule=decided.rule,
            correlation_id=decided.correlation_id,
        ),
        approvable=decided.endpoint_id if held else None,
    )


def state_change_message(
    changed: StateChangedDetail,
    *,
    provider_region: str | None,
    account_name: str | None,
    event_id: str,
    detail: Mapping[str, Any] | None = None,
) -> Message:
    headline, severity = _STATES.get(changed.state, (f"Connection {changed.state}", "info"))
    account = account_label(changed.account, account_name)
    notification = f" ({changed.event_type} notification)" if changed.event_type else ""
    service = changed.service_id or UNKNOWN
    summary = (
        f"The connection of {changed.endpoint_id} from {account} to {service} "
        f"is now {changed.state}{notification}."
    )
    if not changed.found:
        summary += " AWS no longer lists the connection."
    items = (
        Item("Service", service),
        Item("Endpoint", changed.endpoint_id),
        Item("Consumer account", account),
        Item("State", changed.state),
        Item("Notification", changed.event_type or UNKNOWN),
    )
    # The same change notified twice carries the same correlation ID (the SNS message).
    occurrence = changed.correlation_id or event_id
    return Message(
        kind="state-change",
        dedup_key=f"state:{changed.endpoint_id}:{changed.state}:{occurrence}",
        title=f"{headline}: {changed.endpoint_id} from {account} to {service}",
        short_title=subject(f"{headline}: {changed.endpoint_id}"),
        summary=summary,
        severity=severity,
        items=items,
        actions=(),
        dry_run=False,
        console_url=console_url(provider_region, changed.service_id),
        detail_type=STATE_CHANGED,
        detail=dict(detail) if detail is not None else changed.to_event_detail(),
        log_keys=_keys(
            service_id=changed.service_id,
            endpoint_id=changed.endpoint_id,
            account=changed.account,
            correlation_id=changed.correlation_id,
        ),
    )


def override_message(
    alert: OverrideAlert,
    *,
    provider_region: str | None,
    detail_type: str,
    detail: Mapping[str, Any],
) -> Message:
    service = alert.service_id or "an endpoint service the alert could not identify"
    if alert.succeeded:
        summary = (
            f"{alert.actor} {alert.what} on {service} outside the acceptor "
            f"(CloudTrail {alert.event_name}). The acceptor's decisions may no longer describe "
            "this service: find out who made the change and why, and change the policy if the "
            "change should stay."
        )
        result = "succeeded"
    else:
        summary = (
            f"{alert.actor} tried to change {service} outside the acceptor "
            f"(CloudTrail {alert.event_name}), and the call failed with {alert.error_code}; "
            "nothing changed, but someone is trying."
        )
        result = f"failed: {alert.error_code}" + (
            f" ({alert.error_message})" if alert.error_message else ""
        )
    items = [
        Item("Service", alert.service_id or UNKNOWN),
        Item("Call", alert.event_name),
        Item("By", alert.actor),
        Item("Identity type", alert.actor_type),
    ]
    if alert.endpoint_ids:
        items.append(Item("Endpoints", ", ".join(alert.endpoint_ids)))
    if alert.principals_added:
        items.append(Item("Principals added", ", ".join(alert.principals_added)))
    if alert.principals_removed:
        items.append(Item("Principals removed", ", ".join(alert.principals_removed)))
    items += [
        Item("Result", result),
        Item("Source IP", alert.source_ip or UNKNOWN),
        Item("Time", alert.event_time or UNKNOWN),
        Item("CloudTrail event ID", alert.event_id or UNKNOWN),
    ]
    return Message(
        kind="manual-override",
        dedup_key=f"override:{alert.event_id}",
        title=f"Manual override: {alert.event_name} on {service}",
        short_title=subject(f"Manual override: {alert.event_name} on {alert.service_id or '?'}"),
        summary=summary,
        severity="alert",
        items=tuple(items),
        actions=(f"{alert.event_name}: {result}",),
        dry_run=False,
        console_url=console_url(alert.region or provider_region, alert.service_id),
        detail_type=detail_type,
        detail=dict(detail),
        log_keys=_keys(service_id=alert.service_id, correlation_id=alert.event_id),
    )


def subject(text: str) -> str:
    """One ASCII line under SNS's subject limit: e-mail clients show it as it is."""
    line = " ".join(text.split())
    ascii_line = line.encode("ascii", "replace").decode("ascii")
    if len(ascii_line) <= SUBJECT_LIMIT:
        return ascii_line
    return ascii_line[: SUBJECT_LIMIT - 3] + "..."


def _wording(decided: DecidedDetail) -> _Wording:
    fallback = _Wording(f"Decided {decided.decision}", "Decided (dry run)", "alert")
    return _DECISIONS.get((decided.decision, decided.revocation), fallback)


def _missing(facts: list[str], reasons: Mapping[str, str]) -> str:
    if not facts:
        return "none"
    return "; ".join(f"{fact}: {reasons[fact]}" if fact in reasons else fact for fact in facts)


def _action_line(action_type: str, result: str, error: str | None) -> str:
    if action_type == "none":
        return "no action (nothing to change)"
    line = f"{action_type}: {_RESULTS.get(result, result)}"
    return f"{line} ({error})" if error else line


def _transition(before: str | None, after: str | None) -> str:
    if before and after and before != after:
        return f"{before} → {after}"
    return after or before or UNKNOWN


def _keys(**values: str | None) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}
