"""A person's console accept (CloudTrail) of held connections becomes approvals; the others stay
manual overrides (acceptor.flows.approval.console_accepts, acceptor.override.approver_of)."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from acceptor.approval.model import ApprovalRecord
from acceptor.aws.errors import Unavailable
from acceptor.contract import BusEvent
from acceptor.decision.connection import Connection
from acceptor.flows.approval import ApprovalDeps, console_accepts
from acceptor.override import Ignored, OverrideAlert, approver_of, assess
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

EVENTS = Path(__file__).resolve().parents[2] / "events"
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
HELD_ENDPOINT = "vpce-0e5f6a7b8c9d01234"
OTHER_ENDPOINT = "vpce-0d4e5f6a7b8c90123"
ADMIN = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
NOW = datetime(2025, 3, 4, 10, 20, tzinfo=UTC)
POLICY = PolicySet.from_documents(
    [
        PolicyDocument(
            "policies/p.yaml",
            PolicyFile.model_validate(
                {
                    "version": 1,
                    "services": ["*"],
                    "default": "hold",
                    "approval": {"approvers": ["arn:aws:iam::999988887777:role/NetworkAdmins"]},
                }
            ),
        )
    ]
)


class FakeEc2:
    def __init__(self, states: dict[str, str], fail: bool = False) -> None:
        self.states = states
        self.fail = fail

    def connections(self, service_id: str | None, ids: Sequence[str]) -> dict[str, Connection]:
        if self.fail:
            raise Unavailable("DescribeVpcEndpointConnections", "ServiceUnavailable", "down")
        return {
            e: Connection(SERVICE, e, "777788889999", "us-east-1", self.states[e], NOW)
            for e in ids
            if e in self.states
        }


class FakeLog:
    def __init__(self, last: dict[str, str]) -> None:
        self.last = last

    def latest(self, endpoint_id: str) -> dict[str, Any] | None:
        decision = self.last.get(endpoint_id)
        return None if decision is None else {"decision": decision, "endpoint_id": endpoint_id}


class FakeApprovals:
    def __init__(self, standing: ApprovalRecord | None = None) -> None:
        self.standing = standing
        self.written: list[ApprovalRecord] = []

    def record(self, record: ApprovalRecord, now: datetime) -> ApprovalRecord:
        if self.standing is not None:
            return self.standing
        self.written.append(record)
        return record


class FakeBus:
    def __init__(self) -> None:
        self.events: list[BusEvent] = []

    def put(self, events: Sequence[BusEvent]) -> None:
        self.events.extend(events)


def deps(
    last: dict[str, str],
    states: dict[str, str] | None = None,
    approvals: FakeApprovals | None = None,
    ec2_fails: bool = False,
) -> tuple[ApprovalDeps, FakeApprovals, FakeBus]:
    store, bus = approvals or FakeApprovals(), FakeBus()
    built = ApprovalDeps(
        ec2=cast(
            Any, FakeEc2(dict.fromkeys(last, "available") if states is None else states, ec2_fails)
        ),
        approvals=cast(Any, store),
        bus=cast(Any, bus),
        log=cast(Any, FakeLog(last)),
        clock=lambda: NOW,
    )
    return built, store, bus


def alert(*endpoints: str, name: str = "cloudtrail-accept-held-by-approver.json") -> OverrideAlert:
    detail = copy.deepcopy(json.loads((EVENTS / name).read_text())["detail"])
    request = detail["requestParameters"]["AcceptVpcEndpointConnectionsRequest"]
    request["VpcEndpointId"] = [{"tag": i, "content": e} for i, e in enumerate(endpoints, 1)]
    judged = assess(detail, is_managed={SERVICE}.__contains__, acceptor_role_arns=[])
    assert isinstance(judged, OverrideAlert)
    return judged


def test_an_approvers_accept_of_a_held_connection_is_recorded_and_decide_asked_no_alert() -> None:
    built, store, bus = deps({HELD_ENDPOINT: "hold"})

    outcome = console_accepts(alert(HELD_ENDPOINT), POLICY, built)

    assert isinstance(outcome, Ignored)
    (record,) = store.written
    assert (record.endpoint_id, record.decision, record.approver) == (
        HELD_ENDPOINT,
        "accept",
        ADMIN,
    )
    assert record.reason == "accepted in the console"
    assert record.expires_at == NOW + timedelta(days=14)
    (event,) = bus.events
    detail = json.loads(event.entry("bus")["Detail"])
    assert (detail["origin"], detail["endpoint_id"], detail["correlation_id"]) == (
        "approval",
        HELD_ENDPOINT,
        record.approval_id,
    )


@pytest.mark.parametrize(
    ("last", "states"),
    [
        ({HELD_ENDPOINT: "reject"}, None),
        ({HELD_ENDPOINT: "accept"}, None),
        ({}, {HELD_ENDPOINT: "available"}),
        ({HELD_ENDPOINT: "hold"}, {}),
        ({HELD_ENDPOINT: "hold"}, {HELD_ENDPOINT: "rejected"}),
    ],
    ids=["policy-rejected", "policy-accepted", "no-decision", "gone", "rejected-since"],
)
def test_an_accept_that_contradicts_or_cannot_be_placed_keeps_the_alert_and_records_nothing(
    last: dict[str, str], states: dict[str, str] | None
) -> None:
    built, store, bus = deps(last, states)

    outcome = console_accepts(alert(HELD_ENDPOINT), POLICY, built)

    assert isinstance(outcome, OverrideAlert)
    assert outcome.endpoint_ids == (HELD_ENDPOINT,)
    assert (store.written, bus.events) == ([], [])


def test_an_accept_by_someone_approvers_does_not_admit_keeps_the_alert() -> None:
    built, store, _ = deps({"vpce-0e5f6a7b8c9d01234": "hold"})

    outcome = console_accepts(
        alert(HELD_ENDPOINT, name="cloudtrail-accept-by-console-user.json"), POLICY, built
    )

    assert isinstance(outcome, OverrideAlert)
    assert store.written == []


def test_of_several_endpoints_the_held_become_approvals_and_the_alert_names_the_rest() -> None:
    built, store, _ = deps({HELD_ENDPOINT: "hold", OTHER_ENDPOINT: "reject"})

    outcome = console_accepts(alert(HELD_ENDPOINT, OTHER_ENDPOINT), POLICY, built)

    assert isinstance(outcome, OverrideAlert)
    assert outcome.endpoint_ids == (OTHER_ENDPOINT,)
    assert [r.endpoint_id for r in store.written] == [HELD_ENDPOINT]


def test_another_persons_standing_decision_keeps_the_alert_and_asks_nobody() -> None:
    standing = ApprovalRecord(
        endpoint_id=HELD_ENDPOINT,
        service_id=SERVICE,
        decision="reject",
        approver="slack:U0123ABCD",
        reason="no",
        approved_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(days=1),
        approval_id="earlier",
    )
    built, _, bus = deps({HELD_ENDPOINT: "hold"}, approvals=FakeApprovals(standing))

    outcome = console_accepts(alert(HELD_ENDPOINT), POLICY, built)

    assert isinstance(outcome, OverrideAlert)
    assert bus.events == []


def test_connections_unreadable_keeps_the_alert() -> None:
    built, store, _ = deps({HELD_ENDPOINT: "hold"}, ec2_fails=True)

    assert isinstance(console_accepts(alert(HELD_ENDPOINT), POLICY, built), OverrideAlert)
    assert store.written == []


def test_rejects_and_failed_accepts_are_never_approvals() -> None:
    built, store, _ = deps({HELD_ENDPOINT: "hold"})
    failed = alert(HELD_ENDPOINT)
    failed = OverrideAlert(**{**vars(failed), "error_code": "Client.UnauthorizedOperation"})
    rejected = OverrideAlert(
        **{**vars(alert(HELD_ENDPOINT)), "event_name": "RejectVpcEndpointConnections"}
    )

    assert console_accepts(failed, POLICY, built) is failed
    assert console_accepts(rejected, POLICY, built) is rejected
    assert store.written == []


@pytest.mark.parametrize(
    ("identity", "approver"),
    [
        (
            {"type": "IAMUser", "arn": "arn:aws:iam::999988887777:user/bob"},
            "arn:aws:iam::999988887777:user/bob",
        ),
        (
            {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:alice",
                "sessionContext": {
                    "sessionIssuer": {"arn": "arn:aws:iam::999988887777:role/team/NetworkAdmins"}
                },
            },
            ADMIN,
        ),
        ({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, None),
    ],
    ids=["iam-user", "assumed-role-without-arn", "no-arn"],
)
def test_approver_is_the_callers_arn_or_the_issuer_role_and_session(
    identity: dict[str, Any], approver: str | None
) -> None:
    assert approver_of(identity) == approver
