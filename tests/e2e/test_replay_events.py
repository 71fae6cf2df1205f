"""Every sample in events/ replays through template.yaml's wiring with its documented outcome.

The outcomes below are the ones docs/replay.md documents (a test checks that it does): what a
person sees when they replay the file on the demo world with the demo policy (`make demo`'s).
The samples name the demo world's own services, endpoints and accounts, and the replay creates
the world's endpoints first (pending, their notifications not delivered), so each file tells a
story: a decision and its action, the groups it opens, the people it tells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from replay_helpers import EVENTS, REPOSITORY, acceptor_config

from acceptor_tools.local_aws.session import REFUSE_FILTERS_VARIABLE
from acceptor_tools.replay.report import Report
from acceptor_tools.replay.run import replay_files

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.disable_socket]

INGEST, RECONCILE, DECIDE = "IngestFunction", "ReconcileFunction", "DecideFunction"
APPROVAL, SLACK = "ApprovalFunction", "SlackInteractionFunction"
GROUPS, NOTIFY = "SecurityGroupsFunction", "NotifyFunction"


@dataclass(frozen=True)
class Outcome:
    says: str
    """What docs/replay.md says replaying the file shows."""
    calls: tuple[str, ...] = ()
    """Functions called, in the order of their first call."""
    decisions: tuple[str, ...] = ()
    """Decisions on the bus, the file's own included (a Decided event is a decision record),
    in alphabetical order."""
    rules_changed: int = 0
    """Security-group rules added or removed, in any account."""
    untouched: int = 0
    """Groups SecurityGroups looked at and left alone (a dry run's plan, a shared group)."""
    notified: int = 0
    """Messages that reached people's topic (the outbox)."""
    dead_letters: tuple[str, ...] = ()
    unrouted: tuple[str, ...] = ()
    """Detail-types of the events no rule of the template delivered."""


ACCEPTED_PAYMENTS = (
    "Decide accepts payments-orders: SecurityGroups opens 443 on its endpoint group from the "
    "payments VPC (IPv4 and IPv6); ops and the payments team are told, once: the Accept "
    "notification that follows tells nothing new"
)
NOTHING_OF_OURS = (
    "SecurityGroups re-reads payments-orders: still pending, not gone, so nothing is removed; "
    "Notify tells ops"
)
STILL_PENDING = "SecurityGroups re-reads payments-orders: still pending (the accept never happened)"
SWEEP_OF_FIVE = (
    "three accept (443 opened for payments-orders; payments-reports' default group, shared "
    "with other interfaces, left alone and reported), one reject, one hold; everyone told "
    "once per change"
)

EXPECTED: dict[str, Outcome] = {
    "approval-url-accept.json": Outcome(
        "a network admin approves the held partner endpoint through the approval URL: "
        "ApprovalFunction records it, Decide accepts it (the policy holds it), SecurityGroups "
        "opens 443 on its endpoint group from the partner VPC (approval.security_groups), ops "
        "are told who approved it, once: the Accept notification that follows tells nothing new",
        calls=(APPROVAL, DECIDE, INGEST, GROUPS, NOTIFY),
        decisions=("accept",),
        rules_changed=1,
        notified=1,
    ),
    "slack-url-approve.json": Outcome(
        "a Slack click on Approve: SlackInteractionFunction refuses it before anything else "
        "(the demo policy's channels have no signing secret; the sample's timestamp is old "
        "anyway): nothing changes",
        calls=(SLACK,),
    ),
    "bus-requested-approval.json": Outcome(
        "a Requested event with origin approval but no approval record (a forged one): Decide "
        "keeps the partner held and publishes nothing",
        calls=(DECIDE,),
    ),
    "bus-decided-approved-accept.json": Outcome(
        "an accept decided by a person's approval, put on the bus alone: SecurityGroups "
        "re-reads the partner endpoint, still pending and with no approval record, so nothing "
        "is opened (approval-url-accept.json makes the record and opens 443); Notify tells ops "
        "who approved it",
        calls=(GROUPS, NOTIFY),
        decisions=("accept",),
        notified=1,
    ),
    "bus-decided-accept.json": Outcome(
        f"{STILL_PENDING}, so nothing is opened; Notify tells ops",
        calls=(GROUPS, NOTIFY),
        decisions=("accept",),
        notified=1,
    ),
    "bus-decided-revocation-reported.json": Outcome(
        "a revocation reported, not enforced: SecurityGroups has nothing to remove; Notify "
        "tells ops",
        calls=(GROUPS, NOTIFY),
        decisions=("reject",),
        notified=1,
    ),
    "bus-requested-hold-expired.json": Outcome(
        "Decide re-reads the partner's request: still held (no rule for it, its OU unknown; "
        "the demo policy sets no expiry); ops are told",
        calls=(DECIDE, NOTIFY),
        decisions=("hold",),
        notified=1,
    ),
    "bus-requested-notification.json": Outcome(
        ACCEPTED_PAYMENTS,
        calls=(DECIDE, INGEST, GROUPS, NOTIFY),
        decisions=("accept",),
        rules_changed=2,
        notified=2,
    ),
    "bus-state-changed-accepted.json": Outcome(
        "Notify tells ops that payments-orders is available (no security-group rule routes "
        "that state)",
        calls=(NOTIFY,),
        notified=1,
    ),
    "cloudtrail-accept-by-acceptor.json": Outcome(
        "an accept by the acceptor's own role (DecideFunctionRole): Notify raises no alert",
        calls=(NOTIFY,),
    ),
    "cloudtrail-accept-by-console-user.json": Outcome(
        "a person not among the demo policy's approvers accepted the partner endpoint in the "
        "console: Notify raises a manual-override alert",
        calls=(NOTIFY,),
        notified=1,
    ),
    "cloudtrail-accept-held-by-approver.json": Outcome(
        "a network admin (an approver) accepted the partner endpoint in the console; replayed "
        "alone, the decision log holds no decision on it, so Notify cannot tell that the policy "
        "held it and raises a manual-override alert (replayed after a hold, it is an approval)",
        calls=(NOTIFY,),
        notified=1,
    ),
    "cloudtrail-accept-rejected-by-approver.json": Outcome(
        "a network admin accepted the sandbox endpoint in the console, which the policy "
        "rejects: Notify raises a manual-override alert",
        calls=(NOTIFY,),
        notified=1,
    ),
    "cloudtrail-modify-permissions-by-console-user.json": Outcome(
        "a person changed who may connect to orders-api: Notify raises a manual-override alert",
        calls=(NOTIFY,),
        notified=1,
    ),
    "decide-sqs-batch.json": Outcome(
        f"one Decide batch of the five pending requests: {SWEEP_OF_FIVE}",
        calls=(DECIDE, INGEST, GROUPS, NOTIFY),
        decisions=("accept", "accept", "accept", "hold", "reject"),
        rules_changed=2,
        untouched=1,
        notified=8,
    ),
    "ingest-sns-accept-plain-text.json": Outcome(
        "Ingest re-reads payments-orders: still pending (a notification is only a trigger), "
        f"so it is requested. {ACCEPTED_PAYMENTS}",
        calls=(INGEST, DECIDE, GROUPS, NOTIFY),
        decisions=("accept",),
        rules_changed=2,
        notified=2,
    ),
    "ingest-sns-connect-nested-detail.json": Outcome(
        "Ingest reads the nested shape; Decide accepts the cross-region analytics endpoint "
        "(production OU); ops are told",
        calls=(INGEST, DECIDE, GROUPS, NOTIFY),
        decisions=("accept",),
        notified=1,
    ),
    "ingest-sns-connect-pascal-case.json": Outcome(
        "Ingest reads the PascalCase shape; Decide rejects the sandbox endpoint; ops are told",
        calls=(INGEST, DECIDE, GROUPS, NOTIFY),
        decisions=("reject",),
        notified=1,
    ),
    "ingest-sns-connect.json": Outcome(
        f"Ingest requests payments-orders. {ACCEPTED_PAYMENTS}",
        calls=(INGEST, DECIDE, GROUPS, NOTIFY),
        decisions=("accept",),
        rules_changed=2,
        notified=2,
    ),
    "ingest-sns-connect-wrong-service.json": Outcome(
        "the message names reports-api, but payments-orders connects to orders-api: Ingest "
        f"finds it through the managed services and requests it. {ACCEPTED_PAYMENTS}",
        calls=(INGEST, DECIDE, GROUPS, NOTIFY),
        decisions=("accept",),
        rules_changed=2,
        notified=2,
    ),
    "ingest-sns-delete.json": Outcome(
        "Ingest re-reads the connection, it is gone: State Changed (deleted, found: false); "
        "SecurityGroups has nothing to remove; ops are told",
        calls=(INGEST, GROUPS, NOTIFY),
        notified=1,
    ),
    "ingest-sns-unparseable.json": Outcome(
        "Ingest fails three times (call and two retries): IngestDeadLetterQueue",
        calls=(INGEST,),
        dead_letters=("IngestDeadLetterQueue",),
    ),
    "notify-decided-accept.json": Outcome(
        f"{STILL_PENDING}, so nothing is opened; ops and the payments team are told",
        calls=(GROUPS, NOTIFY),
        decisions=("accept",),
        notified=2,
    ),
    "notify-decided-hold.json": Outcome(
        "Notify tells ops that the partner endpoint is held, and why",
        calls=(NOTIFY,),
        decisions=("hold",),
        notified=1,
    ),
    "notify-decided-reject-dry-run.json": Outcome(
        "a dry run: SecurityGroups has nothing to remove; Notify tells ops the sandbox endpoint "
        "would be rejected",
        calls=(GROUPS, NOTIFY),
        decisions=("reject",),
        notified=1,
    ),
    "notify-digest-schedule.json": Outcome(
        "the daily digest of held requests: the replay creates the five endpoints before "
        "the stack, so none is decided yet; Notify lists all five as not decided yet (nev"
        "er left out) in one message to ops, the governing file's channel",
        calls=(NOTIFY,),
        notified=1,
    ),
    "notify-security-groups-shared-group.json": Outcome(
        "Notify tells ops that payments-reports' shared default group was left untouched",
        calls=(NOTIFY,),
        untouched=1,
        notified=1,
    ),
    "notify-state-changed-deleted.json": Outcome(
        NOTHING_OF_OURS,
        calls=(GROUPS, NOTIFY),
        notified=1,
    ),
    "reconcile-schedule.json": Outcome(
        f"Reconcile's sweep requests the five pending connections; Decide: {SWEEP_OF_FIVE}",
        calls=(RECONCILE, DECIDE, INGEST, GROUPS, NOTIFY),
        decisions=("accept", "accept", "accept", "hold", "reject"),
        rules_changed=2,
        untouched=1,
        notified=8,
    ),
    "security-groups-decided-accept-dry-run.json": Outcome(
        "a dry run decided by another policy (its hash is not the bundled policy's): "
        "SecurityGroups plans nothing; ops are told",
        calls=(GROUPS, NOTIFY),
        decisions=("accept",),
        notified=1,
    ),
    "security-groups-decided-accept-forged.json": Outcome(
        f"a forged accept asking for 22 and 3389 from anywhere: {STILL_PENDING}, so nothing "
        "is opened; Notify tells ops",
        calls=(GROUPS, NOTIFY),
        decisions=("accept",),
        notified=1,
    ),
    "security-groups-decided-accept.json": Outcome(
        f"{STILL_PENDING}, so nothing is opened on either group; ops are told",
        calls=(GROUPS, NOTIFY),
        decisions=("accept",),
        notified=1,
    ),
    "security-groups-decided-revocation.json": Outcome(
        "a revocation enforced: SecurityGroups finds no rule of ours for sandbox-orders and "
        "removes nothing; Notify tells ops",
        calls=(GROUPS, NOTIFY),
        decisions=("reject",),
        notified=1,
    ),
    "security-groups-state-deleted.json": Outcome(
        NOTHING_OF_OURS,
        calls=(GROUPS, NOTIFY),
        notified=1,
    ),
    "security-groups-state-rejected.json": Outcome(
        NOTHING_OF_OURS,
        calls=(GROUPS, NOTIFY),
        notified=1,
    ),
}

SAMPLES = sorted(path.name for path in EVENTS.glob("*.json"))


def test_every_sample_event_has_a_documented_outcome() -> None:
    assert sorted(EXPECTED) == SAMPLES


def test_docs_tell_the_outcome_of_every_sample_event() -> None:
    docs = (REPOSITORY / "docs" / "replay.md").read_text()
    rows = dict(re.findall(r"^\| `([\w.-]+\.json)` \| (.+?) \|$", docs, flags=re.MULTILINE))

    assert rows == {name: outcome.says for name, outcome in EXPECTED.items()}


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_event_replays_with_its_documented_outcome(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]

    report = replay_files(acceptor_config(tmp_path / "outbox"), [EVENTS / name])

    assert _outcome(report, expected.says) == expected


def _outcome(report: Report, says: str) -> Outcome:
    calls = tuple(dict.fromkeys(i.function for i in report.log.invocations))
    failures = [i for i in report.failed_calls if not report.dead_letters]
    assert failures == [], "a call failed without ending in a dead-letter queue"
    assert report.log.quiet
    actions = [a["type"] for c in report.connections for a in c.actions]
    return Outcome(
        says=says,
        calls=calls,
        decisions=tuple(sorted(c.decision for c in report.connections if c.decision)),
        rules_changed=sum(a.startswith("security-group-rule-") for a in actions)
        + len(report.other_group_changes),
        untouched=actions.count("security-group-untouched"),
        notified=len(report.log.outbox),
        dead_letters=tuple(d.queue for d in report.dead_letters),
        unrouted=tuple(e.detail_type for e in report.unrouted),
    )


def test_console_accept_of_a_held_connection_is_a_recorded_approval_without_an_alert(
    tmp_path: Path,
) -> None:
    # Given Decide held the partner endpoint (its decision record says hold)
    files = ["bus-requested-hold-expired.json", "cloudtrail-accept-held-by-approver.json"]

    # When a network admin's console accept of it reaches Notify through the default bus
    report = replay_files(
        acceptor_config(tmp_path / "outbox"), [EVENTS / f for f in files], one_by_one=True
    )

    # Then it is recorded as their approval: Decide records an accept that names them, people
    # are told it was accepted, and no manual-override alert is raised
    (partner,) = [c for c in report.connections if c.endpoint_id == "vpce-0e5f6a7b8c9d01234"]
    assert partner.decision == "accept"
    assert partner.approved_by == "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
    assert [a["origin"] for a in partner.actions if a["type"] == "accept"] == ["approval"]
    subjects = [m.subject for m in report.log.outbox]
    assert "Accepted: vpce-0e5f6a7b8c9d01234" in subjects
    assert not [s for s in subjects if s.startswith("Manual override")]
    assert report.failed_calls == []


def test_console_accept_of_a_connection_the_policy_rejects_raises_the_override_alert(
    tmp_path: Path,
) -> None:
    # Given Decide rejected the sandbox endpoint
    files = ["ingest-sns-connect-pascal-case.json", "cloudtrail-accept-rejected-by-approver.json"]

    # When a network admin accepts it in the console
    report = replay_files(
        acceptor_config(tmp_path / "outbox"), [EVENTS / f for f in files], one_by_one=True
    )

    # Then the manual-override alert is raised, and no approval is recorded
    subjects = [m.subject for m in report.log.outbox]
    assert (
        subjects.count(
            "Manual override: AcceptVpcEndpointConnections on vpce-svc-0a1b2c3d4e5f67890"
        )
        == 1
    )
    (sandbox,) = [c for c in report.connections if c.endpoint_id == "vpce-0d4e5f6a7b8c90123"]
    assert (sandbox.decision, sandbox.approved_by) == ("reject", None)
    assert [i.function for i in report.log.invocations].count(DECIDE) == 1


@pytest.mark.parametrize(
    "name", ["ingest-sns-connect-wrong-service.json", "ingest-sns-connect.json"]
)
def test_connects_replay_the_same_when_aws_refuses_the_endpoint_id_filter(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a local AWS that answers the `vpc-endpoint-id` filter with InvalidFilter
    monkeypatch.setenv(REFUSE_FILTERS_VARIABLE, "vpc-endpoint-id")

    # When the notification replays
    report = replay_files(acceptor_config(tmp_path / "outbox"), [EVENTS / name])

    # Then every re-read falls back to listing by service, with the same outcome
    assert _outcome(report, EXPECTED[name].says) == EXPECTED[name]


def test_the_daily_digest_after_a_sweep_lists_only_the_request_still_held(tmp_path: Path) -> None:
    # Given the sweep decided the five pending endpoints: three accepted, one rejected, one held
    files = ["reconcile-schedule.json", "notify-digest-schedule.json"]

    # When the day's digest schedule fires
    report = replay_files(
        acceptor_config(tmp_path / "outbox"), [EVENTS / f for f in files], one_by_one=True
    )

    # Then one digest reaches ops, listing the held partner endpoint with its reason and expiry,
    # and none of the connections that were decided otherwise
    (digest,) = [m for m in report.log.outbox if (m.subject or "").startswith("Held requests")]
    body = digest.message
    assert "1 waiting for a decision" in str(digest.subject)
    assert "vpce-0e5f6a7b8c9d01234: 777788889999" in body
    assert "hold expires" in body
    others = ("vpce-0a1b2c3d4e5f60718", "vpce-0d4e5f6a7b8c90123", "vpce-0f6a7b8c9d0e12345")
    assert not [endpoint for endpoint in others if f"{endpoint}:" in body]
