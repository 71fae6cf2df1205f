"""Approval: a person's accept or reject of a held request → an approval record → Decide asked.

The request names only the endpoint, the decision and the reason; everything acted on is
re-read (docs/architecture.md, the trust boundary): the connection's state and service from
DescribeVpcEndpointConnections, who may approve from the bundled policy, the policy's last
verdict from the decision log. The record is written once (a conditional put), then a
Requested event with origin `approval` asks Decide, which decides again from the truth and
acts only if the connection is still pending, the policy still holds it and the record is
valid. So the answer here is "recorded" (HTTP 202), or why nothing was recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from acceptor.approval.model import ApprovalAsk, ApprovalRecord, terms_for
from acceptor.approval.slack import SlackRefused, click_of, verify
from acceptor.aws.approvals import ApprovalStore, RecordContended
from acceptor.aws.bus import Bus
from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AwsError
from acceptor.aws.signing_secrets import SigningSecrets, signing_secret_names
from acceptor.contract import RequestedDetail, requested
from acceptor.decision.connection import AVAILABLE, PENDING, Connection
from acceptor.flows.telemetry import logger, tracer
from acceptor.override import Ignored, OverrideAlert
from acceptor.policy.policy_set import PolicySet

Status = Literal["recorded", "refused", "already-decided", "not-found", "unauthorized", "invalid"]

HTTP_STATUS: dict[Status, int] = {
    "recorded": 202,
    "invalid": 400,
    "unauthorized": 401,
    "refused": 403,
    "not-found": 404,
    "already-decided": 409,
}
SLACK_STATUS: dict[int, Status] = {400: "invalid", 401: "unauthorized"}


@dataclass(frozen=True)
class ApprovalOutcome:
    status: Status
    message: str
    endpoint_id: str
    decision: str
    approver: str
    state: str | None = None
    service_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.status]

    def body(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "endpoint_id": self.endpoint_id,
            "service_id": self.service_id,
            "decision": self.decision,
            "approver": self.approver,
            "state": self.state,
            **self.extra,
        }


@dataclass
class ApprovalDeps:
    ec2: ProviderEc2
    approvals: ApprovalStore
    bus: Bus
    log: DecisionLog | None
    clock: Callable[[], datetime]


@tracer.capture_method
def approve(
    ask: ApprovalAsk,
    approver: str,
    approval_id: str,
    policy: PolicySet,
    deps: ApprovalDeps,
    *,
    listed_only: bool = False,
) -> ApprovalOutcome:
    """Record `approver`'s decision on `ask.endpoint_id` and ask Decide, or say why not.

    `listed_only`: the approver must be named in `approval.approvers` (Slack: anyone in the
    channel can click, so the absence of the key admits no one)."""
    now = deps.clock()

    def outcome(status: Status, message: str, **more: Any) -> ApprovalOutcome:
        result = ApprovalOutcome(status, message, ask.endpoint_id, ask.decision, approver, **more)
        log = logger.info if status in ("recorded", "already-decided") else logger.warning
        keys = {**result.body(), "approval_id": approval_id, "approval_reason": ask.reason}
        log(f"approval {status}: {keys.pop('message')}", extra=keys)
        return result

    connection = deps.ec2.connections(None, [ask.endpoint_id]).get(ask.endpoint_id)
    if connection is None:
        return outcome(
            "not-found",
            f"AWS shows no connection of endpoint {ask.endpoint_id} to this account's services "
            "(deleted, or never requested): nothing to decide.",
        )
    where = {"state": connection.state, "service_id": connection.service_id}
    terms = terms_for(policy, connection.service_id)
    if not terms.governed:
        return outcome(
            "refused",
            f"No policy file governs {connection.service_id}: the acceptor leaves it alone.",
            **where,
        )
    if not terms.allows(approver) or (listed_only and not terms.approver_lists):
        return outcome(
            "refused",
            f"{approver} is not in approval.approvers of the files governing "
            f"{connection.service_id}.",
            **where,
        )
    if connection.state != PENDING:
        return outcome(
            "already-decided",
            f"The connection is {connection.state}, no longer {PENDING}: nothing to decide.",
            **where,
        )
    last = deps.log.latest(ask.endpoint_id) if deps.log is not None else None
    if last is not None and last.get("decision") == "reject" and last.get("origin") != "approval":
        # Decide would refuse it too (an approval never overrides a reject); say so now.
        return outcome(
            "refused",
            f"The policy rejects this connection ({last.get('reason')}); "
            "an approval never overrides a reject.",
            **where,
        )
    record = ApprovalRecord(
        endpoint_id=connection.endpoint_id,
        service_id=connection.service_id,
        decision=ask.decision,
        approver=approver,
        reason=ask.reason,
        approved_at=now,
        expires_at=now + terms.expires_after,
        approval_id=approval_id,
    )
    standing = deps.approvals.record(record, now)
    if standing.approval_id != record.approval_id and (
        standing.decision != record.decision or standing.approver != record.approver
    ):
        return outcome(
            "already-decided",
            f"{standing.approver} already decided {standing.decision} at "
            f"{standing.approved_at.isoformat()} ({standing.reason}); that record stands until "
            f"{standing.expires_at.isoformat()}.",
            **where,
        )
    _ask_decide(deps.bus, connection, standing.approval_id)
    return outcome(
        "recorded",
        f"Recorded: {standing.approver} decided {standing.decision} ({standing.reason}). "
        "Decide now re-checks the connection and the policy and acts if it is still held.",
        **where,
        extra={
            "approval_id": standing.approval_id,
            "expires_at": standing.expires_at.isoformat(),
        },
    )


@tracer.capture_method
def slack_click(
    headers: Mapping[str, str],
    body: bytes,
    request_id: str,
    policy: PolicySet,
    deps: ApprovalDeps,
    secrets: SigningSecrets,
) -> ApprovalOutcome:
    """A Slack button: its signature and age are checked before anything else (401 when
    either fails); then the Slack user, as `slack:USERID`, approves like anyone else, except
    that only approvers named in `approval.approvers` may (403 otherwise)."""
    names = signing_secret_names(policy)
    try:
        if not names:
            raise SlackRefused(401, "no Slack channel of the policy has a signing_secret")
        verify(headers, body, secrets.read(names), deps.clock())
        click = click_of(body)
    except SlackRefused as err:
        logger.warning("Slack request refused", extra={"status": err.status, "reason": err.reason})
        return ApprovalOutcome(SLACK_STATUS.get(err.status, "invalid"), err.reason, "", "", "")
    ask = ApprovalAsk(endpoint_id=click.endpoint_id, decision=click.decision, reason=click.reason)
    return approve(ask, click.approver, request_id, policy, deps, listed_only=True)


# States a connection is in once somebody accepted it (`pending` while AWS sets it up).
ACCEPTED_STATES = frozenset({PENDING, "pending", AVAILABLE})
CONSOLE_REASON = "accepted in the console"


@tracer.capture_method
def console_accepts(
    alert: OverrideAlert, policy: PolicySet, deps: ApprovalDeps
) -> OverrideAlert | Ignored:
    """A person's accept outside the acceptor (the console, the CLI): for each endpoint the
    policy held, an approval (docs/operations.md, "Approving a held request"); the alert stays
    for the others.

    The CloudTrail record gives only the endpoint IDs and the caller's identity; the last
    decision comes from the decision log and the connection from EC2. An endpoint is approved
    when its last decision record says `hold`, AWS shows its connection (pending acceptance,
    pending or available), its governing files admit the caller as an approver, and no other
    person's decision already stands in the approvals table. Anything else (no decision on
    record, a reject or an accept on record, a read that fails, a caller with no ARN) keeps the
    alert: a change we cannot place is still one someone should look at (fail closed).
    """
    if (
        alert.event_name != "AcceptVpcEndpointConnections"
        or not alert.succeeded
        or alert.approver is None
        or not alert.endpoint_ids
        or deps.log is None
    ):
        return alert
    approver = alert.approver
    try:
        connections = deps.ec2.connections(None, list(alert.endpoint_ids))
    except AwsError as err:
        logger.warning("Console accept: connections unreadable", extra={"error": str(err)})
        return alert
    approved: list[str] = []
    for endpoint_id in alert.endpoint_ids:
        try:
            why_not = _console_approval(
                endpoint_id, connections.get(endpoint_id), approver, alert, policy, deps
            )
        except (AwsError, RecordContended) as err:
            why_not = f"could not be checked ({err})"
        if why_not is None:
            approved.append(endpoint_id)
        else:
            logger.warning(
                f"Console accept of {endpoint_id} stays an override: {why_not}",
                extra={"endpoint_id": endpoint_id, "approver": approver},
            )
    rest = tuple(e for e in alert.endpoint_ids if e not in approved)
    if not rest:
        return Ignored(
            f"{approver} accepted {', '.join(approved)} in the console, which the policy held: "
            "recorded as an approval, and Decide asked"
        )
    return replace(alert, endpoint_ids=rest)


def _console_approval(
    endpoint_id: str,
    connection: Connection | None,
    approver: str,
    alert: OverrideAlert,
    policy: PolicySet,
    deps: ApprovalDeps,
) -> str | None:
    """Record the approval and ask Decide; or say why this accept is not one."""
    assert deps.log is not None
    if connection is None:
        return "AWS shows no connection of this endpoint"
    if connection.state not in ACCEPTED_STATES:
        return f"the connection is {connection.state}"
    last = deps.log.latest(endpoint_id)
    if last is None:
        return "the decision log holds no decision for it (contradiction unknown)"
    if last.get("decision") != "hold":
        return f"the policy's last decision was {last.get('decision')}, not hold"
    terms = terms_for(policy, connection.service_id)
    if not terms.governed or not terms.allows(approver):
        return f"{approver} is not in approval.approvers of the files governing it"
    now = deps.clock()
    record = ApprovalRecord(
        endpoint_id=connection.endpoint_id,
        service_id=connection.service_id,
        decision="accept",
        approver=approver,
        reason=CONSOLE_REASON,
        approved_at=now,
        expires_at=now + terms.expires_after,
        approval_id=f"{alert.event_id or 'cloudtrail'}#{endpoint_id}",
    )
    standing = deps.approvals.record(record, now)
    if standing.approval_id != record.approval_id and (
        standing.decision != "accept" or standing.approver != approver
    ):
        return f"{standing.approver} already decided {standing.decision} on it"
    _ask_decide(deps.bus, connection, standing.approval_id)
    logger.info(
        f"Console accept of {endpoint_id} recorded as an approval by {approver}",
        extra={"endpoint_id": endpoint_id, "approval_id": standing.approval_id},
    )
    return None


def _ask_decide(bus: Bus, connection: Connection, approval_id: str) -> None:
    """A Requested event with origin `approval`: Decide re-reads the connection and reads the
    approval record itself (the event only names the approval)."""
    bus.put([requested(RequestedDetail.of(connection, "approval", approval_id))])
