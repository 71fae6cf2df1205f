"""The demo story (`make demo`) through template.yaml's wiring, asserted part by part."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from replay_helpers import acceptor_config

from acceptor_tools.replay.report import ConnectionReport, Report, render_text
from acceptor_tools.replay.run import replay_demo

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.disable_socket]

PAYMENTS, ANALYTICS, SANDBOX, PARTNER = (
    "111122223333",
    "222233334444",
    "444455556666",
    "777788889999",
)
ALICE = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
ORDERS, REPORTS, STATUS = (
    "vpce-svc-0a1b2c3d4e5f67890",
    "vpce-svc-0b2c3d4e5f6a78901",
    "vpce-svc-0c3d4e5f6a7b89012",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return replay_demo(acceptor_config(tmp_path_factory.mktemp("outbox")))


def _one(report: Report, account: str, service: str) -> ConnectionReport:
    (found,) = [c for c in report.connections if (c.account, c.service_id) == (account, service)]
    return found


def _accept_calls(connection: ConnectionReport) -> list[str]:
    return [a["result"] for a in connection.actions if a["type"] == "accept"]


def test_demo_runs_until_the_application_is_quiet(demo: Report) -> None:
    assert demo.log.quiet
    assert len(demo.connections) == 5


def test_demo_payments_endpoint_notified_twice_is_decided_and_accepted_once(
    demo: Report,
) -> None:
    orders = _one(demo, PAYMENTS, ORDERS)

    assert orders.requests == 2  # SNS delivered its Connect notification twice
    assert orders.decisions == 1
    assert (orders.decision, orders.rule) == ("accept", "payments-prod")
    assert _accept_calls(orders) == ["succeeded"]
    assert (orders.state_before, orders.state_after) == ("pendingAcceptance", "available")


def test_demo_second_payments_endpoint_is_accepted_too(demo: Report) -> None:
    reports = _one(demo, PAYMENTS, REPORTS)

    assert (reports.decision, reports.rule, reports.state_after) == (
        "accept",
        "payments-prod",
        "available",
    )


def test_demo_cross_region_consumer_in_the_production_unit_is_accepted(demo: Report) -> None:
    analytics = _one(demo, ANALYTICS, ORDERS)

    assert analytics.region == "us-west-2"
    assert (analytics.decision, analytics.rule) == ("accept", "production-workloads")
    assert analytics.state_after == "available"


def test_demo_sandbox_endpoint_is_rejected(demo: Report) -> None:
    sandbox = _one(demo, SANDBOX, ORDERS)

    assert (sandbox.decision, sandbox.rule) == ("reject", "no-sandboxes")
    assert [a["result"] for a in sandbox.actions if a["type"] == "reject"] == ["succeeded"]
    assert sandbox.state_after == "rejected"


def test_demo_partner_outside_the_organization_is_held_then_approved_by_a_named_person(
    demo: Report,
) -> None:
    partner = _one(demo, PARTNER, ORDERS)

    # Held first (its notification names the unknown fact), then approved: two decisions.
    assert partner.decisions == 2
    assert (partner.decision, partner.approved_by) == ("accept", ALICE)
    assert partner.missing_facts == ["ou_path"]
    assert "777788889999" in partner.unknown_reasons["ou_path"]
    assert "Partner contract PO-1182" in str(partner.reason)
    assert _accept_calls(partner) == ["succeeded"]
    assert partner.state_after == "available"
    added = [a for a in partner.actions if a["type"] == "security-group-rule-added"]
    assert [a["rule"].split(": ", 1)[1] for a in added] == ["tcp 443 from 172.16.0.0/16"]
    told = [a["file"] for a in partner.actions if a["type"] == "notification"]
    assert any(ALICE in Path(file).read_text() for file in told)


def test_demo_service_without_acceptance_is_not_the_acceptors_business(demo: Report) -> None:
    assert [c for c in demo.connections if c.service_id == STATUS] == []


def test_demo_unparseable_message_is_dead_lettered_with_its_body(demo: Report) -> None:
    (dead,) = demo.dead_letters

    assert dead.queue == "IngestDeadLetterQueue"
    assert dead.function == "IngestFunction"
    assert dead.attempts == 3
    assert dead.error is not None
    assert dead.error.startswith("UnparseableNotification")
    assert json.loads(dead.body)["requestContext"]["condition"] == "RetriesExhausted"


def test_demo_report_for_people_tells_each_outcome(demo: Report) -> None:
    text = render_text(demo)

    assert "decision  ACCEPT by rule payments-prod (requested 2 times, decided once)" in text
    assert "decision  REJECT by rule no-sandboxes" in text
    assert "unknown   ou_path: account 777788889999 is not a member of this organization" in text
    assert "IngestDeadLetterQueue: IngestFunction failed after 3 attempts" in text
    assert f"decision  ACCEPT approved by {ALICE}" in text
    assert "5 connections (4 accept, 1 reject)" in text


def test_demo_writes_function_logs_to_the_outbox(demo: Report, tmp_path: Path) -> None:
    ingest = [i for i in demo.log.invocations if i.function == "IngestFunction"]

    assert any('"unparseable connection notification' in i.log for i in ingest)


def test_demo_accepted_endpoint_group_is_opened_on_443_from_the_consumer_vpc_only(
    demo: Report,
) -> None:
    orders = _one(demo, PAYMENTS, ORDERS)

    added = [a for a in orders.actions if a["type"] == "security-group-rule-added"]
    assert {a["rule"].split(": ", 1)[1] for a in added} == {
        "tcp 443 from 10.10.0.0/16",
        f"tcp 443 from {_ipv6_block(added)}",
    }
    assert all(orders.endpoint_id in a["description"] for a in added)
    assert demo.other_group_changes == []


def _ipv6_block(added: list[dict[str, Any]]) -> str:
    (block,) = [a["rule"].rsplit(" ", 1)[1] for a in added if ":" in a["rule"].rsplit(" ", 1)[1]]
    return str(block)


def test_demo_shared_default_group_is_left_untouched_and_reported(demo: Report) -> None:
    reports = _one(demo, PAYMENTS, REPORTS)

    (untouched,) = [a for a in reports.actions if a["type"] == "security-group-untouched"]
    assert untouched["status"] == "skipped"
    assert "allow_shared_groups" in untouched["reason"]
    assert [a for a in reports.actions if a["type"] == "security-group-rule-added"] == []


def test_demo_held_partner_is_notified_with_the_reason_in_the_outbox(demo: Report) -> None:
    partner = _one(demo, PARTNER, ORDERS)

    files = [a["file"] for a in partner.actions if a["type"] == "notification"]
    assert files
    text = Path(files[0]).read_text()
    assert partner.endpoint_id in text
    assert "ou_path" in text


def test_demo_every_decision_reaches_people(demo: Report) -> None:
    for connection in demo.connections:
        assert [a for a in connection.actions if a["type"] == "notification"], connection
