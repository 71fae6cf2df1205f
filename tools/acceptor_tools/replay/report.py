"""What a replay did, per connection: decision, why, actions and their results, final state.

Everything here is read from the outside, as an operator would: the decision records are the
"Endpoint Connection Decided" events on the bus (the published contract, docs/events.md),
security-group changes are the difference between the groups before and after the replay,
notifications are the messages people's topics received (written to the outbox folder), and the
final state is what DescribeVpcEndpointConnections says at the end.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from acceptor.contract import SOURCE, DetailType
from acceptor_tools.replay.app import App
from acceptor_tools.replay.engine import BusEvent, DeadLetter, OutboxMessage, ReplayLog
from acceptor_tools.replay.runtime import Invocation

# The SecurityGroups function's record of what it did: the rules it added or removed show in
# the groups themselves, what it left alone only here.
SECURITY_GROUPS_UPDATED = DetailType.SECURITY_GROUPS_UPDATED
CHANGED = frozenset({"added", "removed"})
ENDPOINT_ID = re.compile(r"\bvpce-(?!svc-)[0-9a-f]{8,17}\b")


@dataclass(frozen=True, order=True)
class GroupRule:
    """One ingress permission of a security group, flattened to one source."""

    account: str
    group_id: str
    protocol: str
    from_port: int | None
    to_port: int | None
    source: str
    description: str

    def text(self) -> str:
        ports = "all ports" if self.from_port is None else str(self.from_port)
        if self.to_port not in (None, self.from_port):
            ports = f"{self.from_port}-{self.to_port}"
        protocol = "all" if self.protocol == "-1" else self.protocol
        return f"{self.group_id} ({self.account}): {protocol} {ports} from {self.source}"


@dataclass(frozen=True)
class PathDisplay:
    """Paths as the user wrote them. The functions read the policy by its absolute path (each
    runs in its own folder, as in Lambda), so their reasons name it that way; a person who gave
    a relative `--policy` reads it back relative to where they are."""

    replacements: tuple[tuple[str, str], ...] = ()

    @classmethod
    def for_policy(cls, given: Path) -> PathDisplay:
        if given.is_absolute():
            return cls()
        return cls(((str(given.resolve()), str(given)),))

    def __call__(self, text: str) -> str:
        for absolute, shown in self.replacements:
            text = text.replace(absolute, shown)
        return text


@dataclass(frozen=True)
class UnmanagedEndpoint:
    """An endpoint of the world to a service the stack does not manage (it does not require
    acceptance): AWS made it available at once, and the acceptor was never asked."""

    endpoint_id: str
    name: str
    account: str
    service: str
    service_id: str
    state: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": "unmanaged-endpoint", **asdict(self)}


@dataclass
class ConnectionReport:
    endpoint_id: str
    service_id: str | None = None
    account: str | None = None
    region: str | None = None
    decision: str | None = None
    rule: str | None = None
    reason: str | None = None
    missing_facts: list[str] = field(default_factory=list)
    unknown_reasons: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool | None = None
    requests: int = 0
    """"Endpoint Connection Requested" events seen for it (notifications, sweeps...)."""
    decisions: int = 0
    approved_by: str | None = None
    """The person whose approval decided the last decision (origin `approval`)."""
    hold_expires_at: str | None = None
    """For a hold: when it turns into a reject (the Decided event's `hold_expires_at`)."""
    state_before: str | None = None
    state_after: str | None = None
    managed: bool = True
    """False: a connection of a service the stack does not manage (left alone)."""
    actions: list[dict[str, Any]] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    """The policy's channels Notify told about it (ops, payments-team...), in order."""

    def as_json(self) -> dict[str, Any]:
        return {"kind": "connection", **asdict(self)}


@dataclass
class Report:
    connections: list[ConnectionReport]
    dead_letters: list[DeadLetter]
    unrouted: list[BusEvent]
    failed_calls: list[Invocation]
    other_group_changes: list[dict[str, Any]]
    log: ReplayLog
    labels: Mapping[str, str] = field(default_factory=dict)
    """Account and service IDs -> names, for people."""
    unmanaged: list[UnmanagedEndpoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Sentences for people about the run itself (the demo's deliberate failures...)."""

    @property
    def decisions(self) -> Counter[str]:
        return Counter(
            c.decision or ("none" if c.managed else "unmanaged") for c in self.connections
        )


def build_report(
    log: ReplayLog,
    app: App,
    *,
    groups_before: Iterable[GroupRule],
    groups_after: Iterable[GroupRule],
    states: Mapping[str, Mapping[str, Any]],
    outbox_files: Mapping[int, str],
    labels: Mapping[str, str] | None = None,
    paths: PathDisplay | None = None,
    unmanaged_services: Iterable[str] = (),
    unmanaged: Iterable[UnmanagedEndpoint] = (),
) -> Report:
    """`states`: endpoint ID -> DescribeVpcEndpointConnections item at the end.
    `outbox_files`: index in `log.outbox` -> file it was written to.
    `unmanaged_services`: services whose connections are reported as unmanaged.
    `unmanaged`: endpoints nobody decides (their service accepts by itself), listed apart."""
    unmanaged_ids = set(unmanaged_services)
    shown = paths or PathDisplay()
    connections: dict[str, ConnectionReport] = {}

    def connection(endpoint_id: str) -> ConnectionReport:
        return connections.setdefault(endpoint_id, ConnectionReport(endpoint_id=endpoint_id))

    for event in log.bus_events.values():
        detail = event.event.get("detail") or {}
        endpoint_id = detail.get("endpoint_id") if isinstance(detail, dict) else None
        if not isinstance(endpoint_id, str) or event.event.get("source") != SOURCE:
            continue
        report = connection(endpoint_id)
        report.service_id = detail.get("service_id") or report.service_id
        report.account = detail.get("account") or report.account
        report.region = detail.get("region") or report.region
        if event.detail_type == DetailType.DECIDED:
            _take_decision(report, detail, shown)
        elif event.detail_type == DetailType.REQUESTED:
            report.requests += 1
        elif event.detail_type == SECURITY_GROUPS_UPDATED:
            report.actions.extend(_untouched_groups(detail))
    for endpoint_id, item in states.items():
        report = connection(endpoint_id)
        report.service_id = report.service_id or item.get("ServiceId")
        report.account = report.account or item.get("VpcEndpointOwner")
        report.region = report.region or item.get("VpcEndpointRegion")
        report.state_after = item.get("VpcEndpointState")
    for report in connections.values():
        report.managed = report.service_id not in unmanaged_ids
    before, after = set(groups_before), set(groups_after)
    other_changes = []
    for change, rules in (("added", after - before), ("removed", before - after)):
        for rule in sorted(rules):
            action = {
                "type": f"security-group-rule-{change}",
                "account": rule.account,
                "group_id": rule.group_id,
                "rule": rule.text(),
                "description": rule.description,
            }
            owners = [e for e in ENDPOINT_ID.findall(rule.description) if e in connections]
            if owners:
                connections[owners[0]].actions.append(action)
            else:
                other_changes.append(action)
    for index, message in enumerate(log.outbox):
        notification: dict[str, Any] = {
            "type": "notification",
            "topic": _topic_name(app, message),
            "subject": message.subject,
            "file": outbox_files.get(index),
        }
        for endpoint_id in dict.fromkeys(ENDPOINT_ID.findall(message.message)):
            if endpoint_id in connections:
                connections[endpoint_id].actions.append(notification)
    for endpoint_id, channel in _channels_told(log.invocations):
        if endpoint_id in connections and channel not in connections[endpoint_id].channels:
            connections[endpoint_id].channels.append(channel)
    return Report(
        connections=list(connections.values()),
        dead_letters=list(log.dead_letters),
        unrouted=log.unrouted,
        failed_calls=[i for i in log.invocations if not i.ok],
        other_group_changes=other_changes,
        log=log,
        labels=dict(labels or {}),
        unmanaged=list(unmanaged),
    )


def _channels_told(invocations: Iterable[Invocation]) -> Iterator[tuple[str, str]]:
    """(endpoint ID, channel) for each channel a call of Notify reports as sent: its response
    `{"status": "delivered", "sent": [...]}` to an event about that endpoint."""
    for call in invocations:
        response, event = call.response, call.event
        if not (call.ok and isinstance(response, dict) and isinstance(event, dict)):
            continue
        detail = event.get("detail")
        endpoint_id = detail.get("endpoint_id") if isinstance(detail, dict) else None
        sent = response.get("sent")
        if isinstance(endpoint_id, str) and isinstance(sent, list):
            for channel in sent:
                yield endpoint_id, str(channel)


def _take_decision(report: ConnectionReport, detail: Mapping[str, Any], shown: PathDisplay) -> None:
    report.decisions += 1
    report.decision = detail.get("decision")
    report.rule = detail.get("rule")
    report.approved_by = detail.get("approved_by")
    report.hold_expires_at = detail.get("hold_expires_at")
    reason = detail.get("reason")
    report.reason = shown(reason) if isinstance(reason, str) else reason
    report.missing_facts = list(detail.get("missing_facts") or [])
    report.unknown_reasons = {
        fact: shown(why) if isinstance(why, str) else why
        for fact, why in dict(detail.get("unknown_reasons") or {}).items()
    }
    report.rules = [
        {**rule, "file": shown(rule["file"])}
        if isinstance(rule, dict) and isinstance(rule.get("file"), str)
        else rule
        for rule in detail.get("rules") or []
    ]
    report.dry_run = detail.get("dry_run")
    if report.state_before is None:
        report.state_before = detail.get("state_before")
    action = detail.get("action") or {}
    if action.get("type") not in (None, "none"):
        report.actions.append(
            {
                "type": action["type"],
                "result": action.get("result"),
                "error": action.get("error"),
                "origin": detail.get("origin"),
            }
        )


def _untouched_groups(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Groups the function looked at and did not change, and why (a shared group, unknown
    CIDRs...): a connection that works only once someone opens them."""
    untouched = []
    for group in detail.get("groups") or []:
        if not isinstance(group, dict) or group.get("status") in CHANGED:
            continue
        untouched.append(
            {
                "type": "security-group-untouched",
                "group_id": group.get("group_id"),
                "side": group.get("side"),
                "status": group.get("status"),
                "reason": group.get("reason"),
            }
        )
    return untouched


def _topic_name(app: App, message: OutboxMessage) -> str:
    topic = app.topic_for(message.topic_arn)
    return topic.logical_id if topic else message.topic_arn


def write_outbox(
    messages: list[OutboxMessage], app: App, folder: Path, paths: PathDisplay | None = None
) -> dict[int, str]:
    """One text file per message, numbered in the order they were sent."""
    shown = paths or PathDisplay()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    files = {}
    for index, message in enumerate(messages):
        path = folder / f"{index + 1:03d}-{_topic_name(app, message)}.txt"
        subject = f"Subject: {shown(message.subject)}\n\n" if message.subject else ""
        path.write_text(f"{subject}{shown(message.message)}\n", encoding="utf-8")
        files[index] = str(path)
    return files


# --- for people ----------------------------------------------------------------------------


# What a hold means, for someone who knows the console's Accept button (docs/operations.md).
HOLD_MEANS = (
    "held: nobody accepted or rejected it; it waits in pendingAcceptance for a person",
    "release it: acceptor approve|reject ENDPOINT --reason TEXT, Slack's buttons, or the console",
    '(docs/operations.md, "Approving a held request"), or write a rule that decides it',
)


def _hold_expiry_text(expires_at: str | None) -> str:
    """When a hold ends, and what follows (docs/policy.md, `hold.expires_after`)."""
    if expires_at is None:
        return "never: no governing file sets hold.expires_after; it waits for a person"
    return f"{expires_at}: then the hold turns into a reject, unless a person decides first"


def render_text(report: Report) -> str:
    lines: list[str] = ["What the acceptor did with each connection request:", ""]
    label = report.labels.get
    for c in report.connections:
        who = " ".join(x for x in (label(c.account or ""), c.account, c.region) if x)
        service = " ".join(x for x in (label(c.service_id or ""), c.service_id) if x)
        name = label(c.endpoint_id)
        lines.append(f"{c.endpoint_id}{f' ({name})' if name else ''}  {who} -> {service}")
        if c.decision is None and not c.managed:
            lines.append("  decision  none (unmanaged: the service is not tagged for the stack)")
        elif c.decision is None:
            lines.append("  decision  none (no decision was published for it)")
        else:
            rule = f" by rule {c.rule}" if c.rule else ""
            rule = f" approved by {c.approved_by}" if c.approved_by else rule
            dry = " (dry run)" if c.dry_run else ""
            lines.append(f"  decision  {c.decision.upper()}{rule}{dry}{_times(c)}")
            lines.append(f"  why       {c.reason}")
        for fact in c.missing_facts:
            why = c.unknown_reasons.get(fact, "")
            lines.append(f"  unknown   {fact}{': ' + why if why else ''}")
        if c.decision == "hold" and not c.dry_run:
            lines.extend(
                f"  {'hold' if n == 0 else '':8}  {text}" for n, text in enumerate(HOLD_MEANS)
            )
        if c.decision == "hold":
            lines.append(f"  expires   {_hold_expiry_text(c.hold_expires_at)}")
        if c.approved_by:
            lines.append(
                "  held      the policy held it: it waited in pendingAcceptance for a person"
            )
            lines.append(
                f"  released  {c.approved_by} decided it, with a record "
                '(docs/operations.md, "Approving a held request")'
            )
        shown = [a for a in c.actions if a["type"] != "notification"]
        for number, action in enumerate(shown):
            lines.append(f"  {'actions' if number == 0 else '':8}  {_action_text(action)}")
        told = _told(c)
        if told:
            lines.append(f"  told      {told}")
        lines.append(f"  state     {_state_text(c)}")
        lines.append("")
    if report.unmanaged:
        lines.append("Endpoints nobody decides (their service does not require acceptance)")
        for endpoint in report.unmanaged:
            owner = label(endpoint.account) or endpoint.account
            lines.append(
                f"  {endpoint.endpoint_id}  {endpoint.name} of {owner} {endpoint.account} -> "
                f"{endpoint.service} {endpoint.service_id}: {endpoint.state} at once"
            )
        lines.append("")
    if report.other_group_changes:
        lines.append("Security-group changes no connection claims")
        lines.extend(
            f"  {change['type']}: {change['rule']}" for change in report.other_group_changes
        )
        lines.append("")
    lines.append(f"Dead letters ({len(report.dead_letters)}): messages a function gave up on")
    for dead in report.dead_letters:
        attempts = f" after {dead.attempts} attempts" if dead.attempts else ""
        lines.append(f"  {dead.queue}: {dead.function or '?'} failed{attempts}: {dead.error}")
        lines.append(f"    message: {dead_letter_message(dead)}")
    lines.append(f"Unrouted events ({len(report.unrouted)}): put on a bus, matched by no rule")
    groups: dict[tuple[str, str], list[str]] = {}
    for event in report.unrouted:
        detail = event.event.get("detail") or {}
        subject = detail.get("endpoint_id") if isinstance(detail, dict) else None
        groups.setdefault((event.bus, event.detail_type), []).append(subject or event.id)
    for (bus, detail_type), subjects in groups.items():
        lines.append(f"  {len(subjects)} x {detail_type!r} on {bus}: {', '.join(subjects)}")
    lines.extend(f"\n{note}" for note in report.notes)
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines)


def _told(connection: ConnectionReport) -> str:
    """`ops, payments-team (3 messages: outbox/001-NotificationTopic.txt, ...)`."""
    messages = [a for a in connection.actions if a["type"] == "notification"]
    if not messages and not connection.channels:
        return ""
    channels = ", ".join(connection.channels) or "(channels not known)"
    files = [str(a.get("file") or a.get("subject") or a["topic"]) for a in messages]
    if not files:
        return channels
    count = "1 message" if len(files) == 1 else f"{len(files)} messages"
    return f"{channels} ({count}: {', '.join(files)})"


def _state_text(connection: ConnectionReport) -> str:
    """The connection's state when it was decided and at the end of the replay."""
    if connection.state_after is None:
        return "not a connection of the local AWS (the world has no such endpoint)"
    if connection.state_before is None:
        return f"{connection.state_after} now (no decision recorded the state before)"
    return f"{connection.state_before} when decided -> {connection.state_after} now"


def _times(connection: ConnectionReport) -> str:
    """Said only when a request came more than once, or was decided more than once."""
    if connection.requests <= 1 and connection.decisions <= 1:
        return ""
    decided = "once" if connection.decisions == 1 else f"{connection.decisions} times"
    return f" (requested {connection.requests} times, decided {decided})"


def _action_text(action: Mapping[str, Any]) -> str:
    kind = action["type"]
    if kind in ("accept", "reject"):
        error = f" ({action['error']})" if action.get("error") else ""
        return f"{kind}: {action['result']}{error}"
    if kind == "security-group-untouched":
        why = f": {action['reason']}" if action.get("reason") else ""
        return f"~ {action['group_id']} ({action['side']}) {action['status']}{why}"
    if kind.startswith("security-group-rule"):
        sign = "+" if kind.endswith("added") else "-"
        return f"{sign} {action['rule']}  {action['description']!r}"
    return f"notified via {action['topic']}: {action.get('file') or action.get('subject')}"


def summary_line(report: Report) -> str:
    counts = ", ".join(f"{n} {d}" for d, n in sorted(report.decisions.items()))
    calls = len(report.log.invocations)
    quiet = (
        f"quiet after {report.log.rounds} rounds"
        if report.log.quiet
        else f"NOT quiet after {report.log.rounds} rounds (stopped at the limit)"
    )
    return (
        f"{len(report.connections)} connections ({counts}); {calls} function calls, "
        f"{len(report.failed_calls)} failed; {len(report.dead_letters)} dead letters; "
        f"{len(report.unrouted)} unrouted events; {quiet}, {report.log.seconds:.1f} s"
    )


def dead_letter_message(dead: DeadLetter) -> str:
    """The original input inside a dead letter (an invocation record, an SNS event...)."""
    try:
        body: Any = json.loads(dead.body)
    except json.JSONDecodeError:
        return dead.body
    if isinstance(body, dict) and "requestPayload" in body:
        body = body["requestPayload"]
    if isinstance(body, dict) and body.get("Records"):
        record = body["Records"][0]
        if isinstance(record, dict) and "Sns" in record:
            return str(record["Sns"].get("Message"))
        if isinstance(record, dict) and "body" in record:
            return str(record["body"])
    if isinstance(body, dict) and "detail-type" in body:
        detail = body.get("detail") or {}
        return f"{body['detail-type']} {detail.get('endpoint_id', '')}".strip()
    return dead.body


# --- for programs ---------------------------------------------------------------------------


def json_lines(report: Report) -> Iterator[str]:
    for connection in report.connections:
        yield json.dumps(connection.as_json())
    for change in report.other_group_changes:
        yield json.dumps({"kind": "security-group-change", **change})
    for endpoint in report.unmanaged:
        yield json.dumps(endpoint.as_json())
    for dead in report.dead_letters:
        yield json.dumps(
            {
                "kind": "dead-letter",
                "queue": dead.queue,
                "function": dead.function,
                "error": dead.error,
                "attempts": dead.attempts,
                "message": dead_letter_message(dead),
            }
        )
    for event in report.unrouted:
        yield json.dumps(
            {
                "kind": "unrouted",
                "bus": event.bus,
                "source": event.event.get("source"),
                "detail_type": event.detail_type,
                "detail": event.event.get("detail"),
            }
        )
    for call in report.failed_calls:
        yield json.dumps(
            {
                "kind": "failed-call",
                "function": call.function,
                "trigger": call.trigger,
                "error": str(call.error) if call.error else "timed out",
            }
        )
    yield json.dumps(
        {
            "kind": "summary",
            "connections": len(report.connections),
            "decisions": dict(report.decisions),
            "function_calls": len(report.log.invocations),
            "failed_calls": len(report.failed_calls),
            "dead_letters": len(report.dead_letters),
            "unrouted": len(report.unrouted),
            "quiet": report.log.quiet,
            "rounds": report.log.rounds,
            "seconds": round(report.log.seconds, 2),
        }
    )
