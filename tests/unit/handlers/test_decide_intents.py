"""Intents (docs/architecture.md, "Intents"): an accept or reject whose response was lost is
completed as the same decision on the retry, never turned into "ignore" or decided twice."""

from __future__ import annotations

from dataclasses import replace

from handler_fakes import pending
from test_decide_flow import PAYMENTS, POLICY, SANDBOX, Harness, body

from acceptor.aws.errors import Unavailable
from acceptor.aws.idempotency import MemoryGuard

LOST = Unavailable("AcceptVpcEndpointConnections", "InternalError", "response lost")


def test_accept_whose_response_was_lost_is_completed_as_the_same_accept_on_retry() -> None:
    # Given an accept that AWS applies but whose response is lost
    connection = pending("vpce-00000001", account=PAYMENTS)
    harness = Harness([connection])
    harness.ec2.lost_response = LOST
    message = ("m1", body(connection, origin="notification", correlation="c-1"))

    first = harness.run([message])

    # Then the request is retried, the connection is accepted, nothing is announced yet
    assert set(first.failures) == {"m1"}
    assert harness.state("vpce-00000001") == "available"
    assert harness.decided() == {}
    assert harness.log.intents["vpce-00000001"]["status"] == "open"

    # When the queue delivers it again (the response is no longer lost)
    harness.ec2.lost_response = None
    second = harness.run([message])

    # Then the same accept is recorded and published, and EC2 was asked only once
    assert second.failures == {}
    detail = harness.decided()["vpce-00000001"]
    assert detail.decision == "accept"
    assert detail.rule == "payments"
    assert (detail.action.type, detail.action.result) == ("accept", "succeeded")
    assert detail.state_before == "pendingAcceptance"
    assert detail.state_after == "available"
    assert len(harness.ec2.actions()) == 1
    (record,) = [i for i in harness.log.items if i.get("kind") == "decision"]
    assert record["decision"] == "accept"
    assert record["facts"] is not None
    assert harness.log.intents["vpce-00000001"]["status"] == "done"


def test_reject_whose_response_was_lost_is_completed_as_the_same_reject_on_retry() -> None:
    connection = pending("vpce-00000003", account=SANDBOX)
    harness = Harness([connection])
    harness.ec2.lost_response = LOST
    message = ("m1", body(connection))

    harness.run([message])
    harness.ec2.lost_response = None
    outcome = harness.run([message])

    assert outcome.failures == {}
    detail = harness.decided()["vpce-00000003"]
    assert (detail.decision, detail.action.result, detail.state_after) == (
        "reject",
        "succeeded",
        "rejected",
    )


def test_open_intent_of_a_connection_rejected_since_is_recorded_as_a_failed_accept() -> None:
    # Given an accept whose response was lost, and someone rejecting the connection meanwhile
    connection = pending("vpce-00000001", account=PAYMENTS)
    harness = Harness([connection])
    harness.ec2.lost_response = LOST
    message = ("m1", body(connection))
    harness.run([message])
    harness.ec2.lost_response = None
    harness.ec2.connections_by_id["vpce-00000001"] = replace(connection, state="rejected")

    # When the request comes back
    harness.run([message])

    # Then the accept is recorded as failed, with the state that the re-read shows
    detail = harness.decided()["vpce-00000001"]
    assert detail.decision == "accept"
    assert detail.action.result == "failed"
    assert detail.action.error is not None
    assert "rejected" in detail.action.error
    assert detail.state_after == "rejected"


def test_available_connection_without_an_open_intent_is_still_left_alone() -> None:
    connection = pending("vpce-00000001", account=PAYMENTS, state="available")
    harness = Harness([connection])

    outcome = harness.run([("m1", body(connection))])

    assert outcome.failures == {}
    assert harness.decided()["vpce-00000001"].decision == "ignore"
    assert harness.ec2.actions() == []


def test_stale_in_progress_claim_is_retaken_once_its_invocation_time_is_over() -> None:
    guard = MemoryGuard()
    key = {"endpoint_id": "vpce-00000001"}
    assert guard.claim(key, remaining_ms=0).status == "new"  # its Lambda then died

    assert guard.claim(key, remaining_ms=60_000).status == "new"


def test_claim_still_in_progress_is_reported_with_when_it_is_retaken() -> None:
    # Given a request claimed by an invocation that has time left (and may have died)
    connection = pending("vpce-00000001", account=PAYMENTS)
    harness = Harness([connection])
    message = ("m1", body(connection))
    harness.guard.claim(
        {
            "endpoint_id": "vpce-00000001",
            "state": "pendingAcceptance",
            "policy_hash": POLICY.version_hash,
            "origin": "request",
            "dry_run": "false",
        },
        remaining_ms=900_000,
    )

    outcome = harness.run([message])

    reason = str(outcome.failures["m1"])
    assert "another invocation" not in reason
    assert "retaken" in reason
