"""Every sample in events/ replays through template.yaml's wiring with its documented outcome.

The outcomes below are the ones docs/replay.md documents (a test checks that it does): what a
person sees when they replay the file on the demo world. The samples name endpoints that the
demo world does not have, so Decide finds nothing to decide for them ("ignore"); the decision
path itself is shown by the demo story (test_replay_demo.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from replay_helpers import EVENTS, REPOSITORY, acceptor_config

from acceptor_tools.replay.report import Report
from acceptor_tools.replay.run import replay_files

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.disable_socket]

DECIDED = "Endpoint Connection Decided"
STATE_CHANGED = "Endpoint Connection State Changed"
CLOUDTRAIL = "AWS API Call via CloudTrail"


@dataclass(frozen=True)
class Outcome:
    says: str
    """What docs/replay.md says replaying the file shows."""
    calls: tuple[str, ...] = ()
    """Functions called, in the order of their first call."""
    decisions: tuple[str, ...] = ()
    """Decisions on the bus, the file's own included (a Decided event is a decision record)."""
    dead_letters: tuple[str, ...] = ()
    unrouted: tuple[str, ...] = ()
    """Detail-types of the events no rule of the template delivered."""


NOT_ROUTED_YET = "put on the bus; no rule of the template routes it"
INGEST_GONE = "Ingest re-reads the connection, does not find it: State Changed (found: false)"
DECIDE_GONE = "Decide re-reads the connection, does not find it: ignore"

EXPECTED: dict[str, Outcome] = {
    "bus-decided-accept.json": Outcome(NOT_ROUTED_YET, decisions=("accept",), unrouted=(DECIDED,)),
    "bus-decided-revocation-reported.json": Outcome(
        NOT_ROUTED_YET, decisions=("reject",), unrouted=(DECIDED,)
    ),
    "bus-requested-hold-expired.json": Outcome(
        DECIDE_GONE, calls=("DecideFunction",), decisions=("ignore",), unrouted=(DECIDED,)
    ),
    "bus-requested-notification.json": Outcome(
        DECIDE_GONE, calls=("DecideFunction",), decisions=("ignore",), unrouted=(DECIDED,)
    ),
    "bus-state-changed-accepted.json": Outcome(NOT_ROUTED_YET, unrouted=(STATE_CHANGED,)),
    "cloudtrail-accept-by-acceptor.json": Outcome(
        "put on the default bus; no rule of the template routes it", unrouted=(CLOUDTRAIL,)
    ),
    "cloudtrail-accept-by-console-user.json": Outcome(
        "put on the default bus; no rule of the template routes it", unrouted=(CLOUDTRAIL,)
    ),
    "cloudtrail-modify-permissions-by-console-user.json": Outcome(
        "put on the default bus; no rule of the template routes it", unrouted=(CLOUDTRAIL,)
    ),
    "decide-sqs-batch.json": Outcome(
        "one Decide batch of five requests; none of the connections exists: five ignore",
        calls=("DecideFunction",),
        decisions=("ignore",) * 5,
        unrouted=(DECIDED,) * 5,
    ),
    "ingest-sns-accept-plain-text.json": Outcome(
        INGEST_GONE, calls=("IngestFunction",), unrouted=(STATE_CHANGED,)
    ),
    "ingest-sns-connect-nested-detail.json": Outcome(
        INGEST_GONE, calls=("IngestFunction",), unrouted=(STATE_CHANGED,)
    ),
    "ingest-sns-connect-pascal-case.json": Outcome(
        INGEST_GONE, calls=("IngestFunction",), unrouted=(STATE_CHANGED,)
    ),
    "ingest-sns-connect.json": Outcome(
        INGEST_GONE, calls=("IngestFunction",), unrouted=(STATE_CHANGED,)
    ),
    "ingest-sns-delete.json": Outcome(
        INGEST_GONE, calls=("IngestFunction",), unrouted=(STATE_CHANGED,)
    ),
    "ingest-sns-unparseable.json": Outcome(
        "Ingest fails three times (call and two retries): IngestDeadLetterQueue",
        calls=("IngestFunction",),
        dead_letters=("IngestDeadLetterQueue",),
    ),
    "notify-decided-accept.json": Outcome(
        NOT_ROUTED_YET, decisions=("accept",), unrouted=(DECIDED,)
    ),
    "notify-decided-hold.json": Outcome(NOT_ROUTED_YET, decisions=("hold",), unrouted=(DECIDED,)),
    "notify-decided-reject-dry-run.json": Outcome(
        NOT_ROUTED_YET, decisions=("reject",), unrouted=(DECIDED,)
    ),
    "notify-state-changed-deleted.json": Outcome(NOT_ROUTED_YET, unrouted=(STATE_CHANGED,)),
    "reconcile-schedule.json": Outcome(
        "Reconcile sweeps the managed services: nothing is pending, nothing to request",
        calls=("ReconcileFunction",),
    ),
    "security-groups-decided-accept-dry-run.json": Outcome(
        NOT_ROUTED_YET, decisions=("accept",), unrouted=(DECIDED,)
    ),
    "security-groups-decided-accept.json": Outcome(
        NOT_ROUTED_YET, decisions=("accept",), unrouted=(DECIDED,)
    ),
    "security-groups-decided-revocation.json": Outcome(
        NOT_ROUTED_YET, decisions=("reject",), unrouted=(DECIDED,)
    ),
    "security-groups-state-deleted.json": Outcome(NOT_ROUTED_YET, unrouted=(STATE_CHANGED,)),
    "security-groups-state-rejected.json": Outcome(NOT_ROUTED_YET, unrouted=(STATE_CHANGED,)),
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
    return Outcome(
        says=says,
        calls=calls,
        decisions=tuple(c.decision for c in report.connections if c.decision),
        dead_letters=tuple(d.queue for d in report.dead_letters),
        unrouted=tuple(e.detail_type for e in report.unrouted),
    )
