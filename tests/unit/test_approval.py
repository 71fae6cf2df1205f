"""Who may approve, Slack's signatures, and Decide's approval seam (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from acceptor.approval.model import ApprovalRecord, matches, terms_for
from acceptor.approval.slack import SlackRefused, click_of, signature, verify
from acceptor.contract import RequestedDetail
from acceptor.decision.connection import Connection
from acceptor.decision.decide_one import Decision, decide_one
from acceptor.decision.gather import RequestFacts
from acceptor.decision.records import Records
from acceptor.policy.facts import Facts
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

pytestmark = pytest.mark.disable_socket

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::999988887777:role/network/NetworkAdmins"
SESSION = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"


def policy(*files: dict[str, Any]) -> PolicySet:
    return PolicySet.from_documents(
        PolicyDocument(f"policies/p{i}.yaml", PolicyFile.model_validate({"version": 1, **f}))
        for i, f in enumerate(files)
    )


# ---------------------------------------------------------------- who may approve


@pytest.mark.parametrize(
    ("allowed", "caller", "admitted"),
    [
        (ROLE, SESSION, True),
        (ROLE, "arn:aws:sts::999988887777:assumed-role/Developers/alice", False),
        (ROLE, "arn:aws:sts::111122223333:assumed-role/NetworkAdmins/alice", False),
        (ROLE, "arn:aws-cn:sts::999988887777:assumed-role/NetworkAdmins/alice", False),
        ("arn:aws:iam::999988887777:user/bob", "arn:aws:iam::999988887777:user/bob", True),
        ("arn:aws:iam::999988887777:user/bob", "arn:aws:iam::999988887777:user/bobby", False),
        (SESSION, SESSION, True),
        ("slack:U0123ABCD", "slack:U0123ABCD", True),
        ("slack:U0123ABCD", "slack:U0123ABCE", False),
    ],
)
def test_an_approver_entry_admits_itself_and_a_role_admits_its_sessions_only(
    allowed: str, caller: str, admitted: bool
) -> None:
    assert matches(allowed, caller) is admitted


def test_without_approvers_anyone_is_admitted_and_the_default_expiry_is_14_days() -> None:
    terms = terms_for(policy({"services": ["*"]}), SERVICE)

    assert terms.allows("arn:aws:iam::999988887777:user/anyone")
    assert terms.expires_after == timedelta(days=14)


def test_with_several_files_every_approvers_list_must_admit_and_the_shortest_expiry_counts() -> (
    None
):
    terms = terms_for(
        policy(
            {"services": ["*"], "approval": {"approvers": [ROLE], "expires_after": "3d"}},
            {"services": [SERVICE], "approval": {"approvers": [SESSION], "expires_after": "1d"}},
        ),
        SERVICE,
    )

    assert terms.allows(SESSION)
    assert not terms.allows("arn:aws:sts::999988887777:assumed-role/NetworkAdmins/bob")
    assert terms.expires_after == timedelta(days=1)


def test_a_service_no_file_governs_has_no_terms() -> None:
    assert not terms_for(policy({"services": ["vpce-svc-0fffffffffffffff0"]}), SERVICE).governed


# ---------------------------------------------------------------- Slack


def slack_body(action: str = "acceptor-approve", user: str = "U0123ABCD") -> bytes:
    payload = (
        f'{{"type":"block_actions","user":{{"id":"{user}","username":"alice"}},'
        f'"actions":[{{"action_id":"{action}","value":"{ENDPOINT}","type":"button"}}]}}'
    )
    return f"payload={quote(payload)}".encode()


def headers(secret: str, body: bytes, sent: datetime = NOW) -> dict[str, str]:
    timestamp = str(int(sent.timestamp()))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(secret, timestamp, body),
    }


def test_slack_request_signed_with_a_configured_secret_passes() -> None:
    body = slack_body()

    verify(headers("s3cret", body), body, ["other", "s3cret"], NOW + timedelta(minutes=4))


@pytest.mark.parametrize(
    ("given", "body", "now"),
    [
        (headers("wrong", slack_body()), slack_body(), NOW),
        (headers("s3cret", slack_body()), slack_body("acceptor-reject"), NOW),
        (headers("s3cret", slack_body()), slack_body(), NOW + timedelta(minutes=5, seconds=1)),
        (headers("s3cret", slack_body()), slack_body(), NOW - timedelta(minutes=5, seconds=1)),
        ({}, slack_body(), NOW),
        ({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}, slack_body(), NOW),
    ],
    ids=["bad-secret", "body-changed", "stale", "from-the-future", "unsigned", "bad-timestamp"],
)
def test_slack_request_not_signed_by_a_configured_secret_or_out_of_time_is_refused(
    given: dict[str, str], body: bytes, now: datetime
) -> None:
    with pytest.raises(SlackRefused) as refused:
        verify(given, body, ["s3cret"], now)

    assert refused.value.status == 401


def test_slack_click_names_the_user_as_approver_and_the_button_s_decision() -> None:
    click = click_of(slack_body("acceptor-reject", "U0AAAA1111"))

    assert (click.approver, click.decision, click.endpoint_id) == (
        "slack:U0AAAA1111",
        "reject",
        ENDPOINT,
    )


def test_slack_interaction_that_is_not_our_button_is_refused() -> None:
    with pytest.raises(SlackRefused) as refused:
        click_of(slack_body("someone-elses-button"))

    assert refused.value.status == 400


# ---------------------------------------------------------------- decide_one's approval step

HELD = policy(
    {
        "services": ["*"],
        "default": "hold",
        "approval": {"security_groups": {"consumer_endpoint": {"ports": [443]}}},
    }
)
REJECTING = policy(
    {
        "services": ["*"],
        "default": "hold",
        "rules": [{"name": "no-sandbox", "decision": "reject", "when": {"accounts": ["1" * 12]}}],
    }
)
EXPIRING = policy({"services": ["*"], "default": "hold", "hold": {"expires_after": "1h"}})


def request() -> RequestedDetail:
    return RequestedDetail(
        service_id=SERVICE,
        endpoint_id=ENDPOINT,
        account="111111111111",
        region="us-east-1",
        state="pendingAcceptance",
        created_at=NOW - timedelta(minutes=30),
        origin="approval",
        correlation_id="approval-1",
    )


def connection(
    age: timedelta = timedelta(minutes=30), state: str = "pendingAcceptance"
) -> Connection:
    return Connection(SERVICE, ENDPOINT, "111111111111", "us-east-1", state, NOW - age)


def record(decision: str = "accept", **changes: Any) -> ApprovalRecord:
    fields: dict[str, Any] = {
        "endpoint_id": ENDPOINT,
        "service_id": SERVICE,
        "decision": decision,
        "approver": SESSION,
        "reason": "ticket NET-4711",
        "approved_at": NOW - timedelta(minutes=1),
        "expires_at": NOW + timedelta(days=1),
        "approval_id": "approval-1",
        **changes,
    }
    return ApprovalRecord(**fields)


def decide_with(
    policy_set: PolicySet,
    approval: ApprovalRecord | None,
    age: timedelta = timedelta(minutes=30),
    state: str = "pendingAcceptance",
) -> Decision:
    facts = Facts(service_id=SERVICE, endpoint_id=ENDPOINT, account="111111111111", region="x")
    return decide_one(
        request(),
        connection(age, state),
        RequestFacts(facts=facts),
        Records(approval=approval),
        policy_set,
        NOW,
    )


@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_a_valid_approval_of_a_held_request_decides_it_and_names_the_approver(
    decision: str,
) -> None:
    decided = decide_with(HELD, record(decision))

    assert (decided.decision, decided.action) == (decision, decision)
    assert (decided.approved_by, decided.approval_reason) == (SESSION, "ticket NET-4711")
    assert not decided.quiet


def test_an_approved_accept_opens_the_approval_security_groups() -> None:
    decided = decide_with(HELD, record("accept"))

    assert json.loads(str(decided.security_groups)) == {
        "consumer_endpoint": {"ports": [443], "allow_shared_groups": False},
        "max_cidrs": 5,
        "allow_public_cidrs": False,
    }


def test_an_approval_never_overrides_a_matched_reject_rule() -> None:
    decided = decide_with(REJECTING, record("accept"))

    assert (decided.decision, decided.action, decided.approved_by) == ("reject", "reject", None)
    assert decided.reason.startswith("An approval does not apply")


@pytest.mark.parametrize(
    ("approval", "why"),
    [
        (None, "no approval record"),
        (record(expires_at=NOW), "expired"),
        (record(endpoint_id="vpce-0fffffffffffffff0"), "another connection"),
        (record(service_id="vpce-svc-0fffffffffffffff0"), "another connection"),
        (record(approved_at=NOW + timedelta(minutes=1)), "future"),
    ],
    ids=["no-record", "expired", "other-endpoint", "other-service", "future"],
)
def test_without_a_valid_record_a_held_request_stays_held_and_nothing_is_published(
    approval: ApprovalRecord | None, why: str
) -> None:
    decided = decide_with(HELD, approval)

    assert (decided.decision, decided.action, decided.approved_by) == ("hold", "none", None)
    assert decided.quiet
    assert why in decided.reason


def test_without_a_record_an_expired_hold_is_still_rejected_and_published() -> None:
    decided = decide_with(EXPIRING, None, age=timedelta(hours=2))

    assert (decided.decision, decided.action, decided.quiet) == ("reject", "reject", False)


@pytest.mark.parametrize("state", ["pending", "available"])
def test_an_accept_a_person_made_in_the_console_is_recorded_as_theirs_with_nothing_to_do(
    state: str,
) -> None:
    # Given a connection a person accepted (pending or available), an accept record of theirs
    # and a policy that still holds it
    decided = decide_with(HELD, record("accept"), state=state)

    # Then it is their accept, with no action left and the approval's groups to open
    assert (decided.decision, decided.action, decided.approved_by) == ("accept", "none", SESSION)
    assert json.loads(str(decided.security_groups))["consumer_endpoint"]["ports"] == [443]
    assert not decided.quiet


@pytest.mark.parametrize(
    ("policy_set", "approval"),
    [
        (HELD, None),
        (HELD, record("reject")),
        (HELD, record(expires_at=NOW)),
        (REJECTING, record("accept")),
    ],
    ids=["no-record", "reject-record", "expired", "policy-rejects"],
)
def test_an_accepted_connection_without_a_valid_accept_of_a_held_request_is_left_alone(
    policy_set: PolicySet, approval: ApprovalRecord | None
) -> None:
    decided = decide_with(policy_set, approval, state="available")

    assert (decided.decision, decided.action, decided.approved_by) == ("ignore", "none", None)
    assert decided.security_groups is None


@pytest.mark.parametrize("state", ["rejected", "deleted", "failed"])
def test_an_approval_request_for_a_connection_in_another_state_is_screened_out(
    state: str,
) -> None:
    decided = decide_with(HELD, record("accept"), state=state)

    assert (decided.decision, decided.evaluation) == ("ignore", None)


def test_an_approval_record_round_trips_through_its_table_item() -> None:
    assert ApprovalRecord.from_item(record().to_item()) == record()
