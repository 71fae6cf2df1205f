"""The message for security-group work that needs a person: warnings and failures.

SecurityGroupsFunction reports every change it makes; a message is worth sending only when it
could not do what the connection needs (a shared group left alone, unknown CIDRs, an NLB that
will filter the traffic, a group it may not change...). Successful changes stay in the decision
log and on the bus. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acceptor.notify.events import SECURITY_GROUPS_UPDATED, GroupOutcome, SecurityGroupsUpdated
from acceptor.notify.message import (
    UNKNOWN,
    Item,
    Message,
    Severity,
    account_label,
    console_url,
    subject,
)

# How a group's status reads after its side and ID.
_STATUSES: dict[str, str] = {
    "added": "rules added",
    "unchanged": "already allowed",
    "planned": "planned (dry run)",
    "removed": "our rules removed",
    "skipped": "left untouched",
    "failed": "FAILED",
}
_SIDES: dict[str, str] = {"consumer_endpoint": "consumer endpoint", "provider": "provider NLB"}


def security_groups_message(
    updated: SecurityGroupsUpdated,
    *,
    provider_region: str | None,
    account_name: str | None,
    event_id: str,
    detail: Mapping[str, Any],
) -> Message:
    failed = any(group.status == "failed" for group in updated.groups)
    severity: Severity = "alert" if failed else "warning"
    headline = "Security group change FAILED" if failed else "Security groups need attention"
    service = updated.service_id or UNKNOWN
    account = account_label(updated.account, account_name)
    first = updated.warnings[0].message if updated.warnings else "a group change failed"
    summary = (
        f"The connection of {updated.endpoint_id} from {account} to {service} may not work: "
        f"{first}."
    )
    actions = tuple(_group_line(group) for group in updated.groups)
    items = [
        Item("Service", service),
        Item("Endpoint", updated.endpoint_id),
        Item("Consumer account", account),
        Item(
            "Operation",
            {"add": "add ingress", "remove": "remove our ingress"}.get(
                updated.operation or "", updated.operation or UNKNOWN
            ),
        ),
        Item("Consumer CIDRs", ", ".join(updated.cidrs) or UNKNOWN),
        *(Item("Group", line) for line in actions),
        *(Item("Warning", _warning_line(w.message, w.group_id)) for w in updated.warnings),
        Item("Dry run", "yes: nothing was changed" if updated.dry_run else "no"),
    ]
    occurrence = updated.updated_at or updated.correlation_id or event_id
    return Message(
        kind="security-groups",
        dedup_key=f"groups:{updated.endpoint_id}:{updated.operation}:{occurrence}",
        title=f"{headline}: {updated.endpoint_id} to {service}",
        short_title=subject(f"{headline}: {updated.endpoint_id}"),
        summary=summary,
        severity=severity,
        items=tuple(items),
        actions=actions,
        dry_run=updated.dry_run,
        console_url=console_url(provider_region, updated.service_id),
        detail_type=SECURITY_GROUPS_UPDATED,
        detail=dict(detail),
        log_keys={
            key: value
            for key, value in {
                "service_id": updated.service_id,
                "endpoint_id": updated.endpoint_id,
                "account": updated.account,
                "correlation_id": updated.correlation_id,
            }.items()
            if value
        },
    )


def _group_line(group: GroupOutcome) -> str:
    side = _SIDES.get(group.side, group.side)
    line = f"{side} {group.group_id}: {_STATUSES.get(group.status, group.status)}"
    if group.added:
        line += f" ({len(group.added)} rule(s))"
    if group.shared_with:
        line += f"; shared with {', '.join(group.shared_with)}"
    if group.reason:
        line += f"; {group.reason}"
    return line


def _warning_line(message: str, group_id: str | None) -> str:
    return f"{group_id}: {message}" if group_id else message
