"""The Decide flow over a batch, with the adapters faked: grouping, idempotency, failures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

from handler_fakes import NOW, FakeBus, FakeConsumers, FakeEc2, FakeLog, pending

from acceptor.aws.bus import FailedEntry
from acceptor.aws.errors import AccessDenied, Throttled
from acceptor.aws.idempotency import Claim, MemoryGuard
from acceptor.aws.organizations import OrganizationsReader
from acceptor.contract import BusEvent, DecidedDetail, Origin, RequestedDetail, RequestedEvent
from acceptor.decision.actions import ItemFailure
from acceptor.decision.connection import Connection
from acceptor.decision.gather import ConsumerFacts
from acceptor.flows.decide import BatchOutcome, DecideDeps, decide_batch
from acceptor.flows.decide.deliver import PUBLISH_CHUNK
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

DAY = timedelta(days=1)
A = "vpce-svc-0a1b2c3d4e5f67890"
B = "vpce-svc-0b2c3d4e5f6a78901"
PAYMENTS, ANALYTICS, SANDBOX, PARTNER = (
    "111122223333",
    "222233334444",
    "444455556666",
    "777788889999",
)

POLICY = PolicySet.from_documents(
    [
        PolicyDocument(
            "policies/acceptor.yaml",
            PolicyFile.model_validate(
                {
                    "version": 1,
                    "services": ["*"],
                    "default": "hold",
                    "revoke": True,
                    "rules": [
                        {
                            "name": "payments",
                            "decision": "accept",
                            "when": {"accounts": [PAYMENTS, ANALYTICS]},
                        },
                        {"name": "sandbox", "decision": "reject", "when": {"accounts": [SANDBOX]}},
                    ],
                }
            ),
        )
    ]
)


def body(connection: Connection, origin: Origin = "sweep", correlation: str = "sweep-1") -> str:
    detail = RequestedDetail.of(connection, origin, correlation)
    event = {
        "version": "0",
        "id": f"id-{connection.endpoint_id}-{origin}-{correlation}",
        "detail-type": "Endpoint Connection Requested",
        "source": "privatelink-acceptor",
        "account": "999988887777",
        "time": "2025-03-04T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail.model_dump(mode="json"),
    }
    RequestedEvent.model_validate(event)
    return json.dumps(event)


def limited_policy(per_account: int, over_limit: str) -> PolicySet:
    """Accept PAYMENTS on service A, with a limit per account; service B has no limit."""

    def document(path: str, service: str, **extra: Any) -> PolicyDocument:
        content = {
            "version": 1,
            "services": [service],
            "default": "reject",
            "rules": [{"name": "payments", "decision": "accept", "when": {"accounts": [PAYMENTS]}}],
            **extra,
        }
        return PolicyDocument(path, PolicyFile.model_validate(content))

    limits = {"per_account": per_account, "over_limit": over_limit}
    return PolicySet.from_documents(
        [document("policies/a.yaml", A, limits=limits), document("policies/b.yaml", B)]
    )


class Harness:
    def __init__(
        self,
        connections: Sequence[Connection],
        policy: PolicySet = POLICY,
        **consumer: ConsumerFacts,
    ) -> None:
        self.policy = policy
        self.ec2 = FakeEc2(connections)
        self.bus = FakeBus()
        self.guard = MemoryGuard()
        self.consumers = FakeConsumers(dict(consumer))
        self.log = FakeLog()

    def run(self, messages: Sequence[tuple[str, str]], *, dry_run: bool = False) -> BatchOutcome:
        deps = DecideDeps(
            ec2=self.ec2,
            consumers=self.consumers,
            organizations=OrganizationsReader(None),
            bus=self.bus,
            guard=self.guard,
            log=self.log,
            clock=lambda: NOW,
        )
        return decide_batch(messages, self.policy, deps, dry_run=dry_run, ttl=timedelta(days=1))

    def decided(self) -> dict[str, DecidedDetail]:
        return {d.endpoint_id: d for d in (cast(DecidedDetail, e.detail) for e in self.bus.events)}

    def state(self, endpoint_id: str) -> str:
        return self.ec2.connections_by_id[endpoint_id].state


def test_batch_accepts_rejects_and_holds_with_one_call_per_service_and_action() -> None:
    connections = [
        pending("vpce-00000001", account=PAYMENTS),
        pending("vpce-00000002", account=ANALYTICS),
        pending("vpce-00000003", account=SANDBOX),
        pending("vpce-00000004", account=PARTNER),
        pending("vpce-00000005", account=PAYMENTS, service_id=B),
    ]
    harness = Harness(connections)

    outcome = harness.run([(f"m{i}", body(c)) for i, c in enumerate(connections)])

    assert outcome.failures == {}
    assert sorted(harness.ec2.actions()) == [
        ("accept", A, ("vpce-00000001", "vpce-00000002")),
        ("accept", B, ("vpce-00000005",)),
        ("reject", A, ("vpce-00000003",)),
    ]
    decided = harness.decided()
    assert {e: d.decision for e, d in decided.items()} == {
        "vpce-00000001": "accept",
        "vpce-00000002": "accept",
        "vpce-00000003": "reject",
        "vpce-00000004": "hold",
        "vpce-00000005": "accept",
    }
    assert decided["vpce-00000001"].state_after == "available"
    assert decided["vpce-00000004"].action.result == "skipped"
    assert harness.state("vpce-00000003") == "rejected"
    assert len(harness.log.items) == 5


def test_consumer_facts_are_read_once_per_account() -> None:
    connections = [pending(f"vpce-0000000{i}", account=PAYMENTS) for i in range(1, 4)]
    harness = Harness(connections)

    harness.run([(f"m{i}", body(c)) for i, c in enumerate(connections)])

    assert harness.consumers.lookups == [
        (PAYMENTS, "us-east-1", ("vpce-00000001", "vpce-00000002", "vpce-00000003"))
    ]


def test_dry_run_decides_records_and_publishes_but_calls_nothing() -> None:
    connections = [pending("vpce-00000001"), pending("vpce-00000003", account=SANDBOX)]
    harness = Harness(connections)

    outcome = harness.run([(f"m{i}", body(c)) for i, c in enumerate(connections)], dry_run=True)

    assert outcome.failures == {}
    assert harness.ec2.actions() == []
    decided = harness.decided()
    assert decided["vpce-00000001"].action.model_dump() == {
        "type": "accept",
        "result": "dry-run",
        "error": None,
    }
    assert decided["vpce-00000003"].dry_run
    assert harness.state("vpce-00000001") == "pendingAcceptance"
    assert len(harness.log.items) == 2


def test_switching_dry_run_off_decides_the_same_request_again_and_acts() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.run([("m1", body(connection))], dry_run=True)

    again = harness.run([("m1-after-dry-run", body(connection))], dry_run=False)

    assert again.duplicates == []
    assert harness.ec2.actions() == [("accept", A, ("vpce-00000001",))]
    assert [cast(DecidedDetail, e.detail).dry_run for e in harness.bus.events] == [True, False]
    assert harness.state("vpce-00000001") == "available"


def test_a_dry_run_repeated_within_the_hour_is_a_duplicate() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.run([("m1", body(connection))], dry_run=True)

    again = harness.run([("m1-redelivered", body(connection))], dry_run=True)

    assert again.duplicates == ["m1-redelivered"]
    assert len(harness.bus.events) == 1


def test_duplicate_event_in_a_later_batch_acts_once() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.run([("m1", body(connection))])

    again = harness.run([("m1-redelivered", body(connection))])

    assert again.duplicates == ["m1-redelivered"]
    assert len(harness.ec2.actions()) == 1
    assert len(harness.bus.events) == 1


def test_identical_events_in_one_batch_make_one_decision() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])

    outcome = harness.run([("m1", body(connection)), ("m2", body(connection))])

    assert outcome.failures == {}
    assert len(harness.ec2.actions()) == 1
    assert len(harness.bus.events) == 1


def test_a_notification_and_a_sweep_for_one_endpoint_in_one_batch_decide_once() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])

    outcome = harness.run(
        [("m1", body(connection, "notification", "msg-1")), ("m2", body(connection))]
    )

    assert outcome.failures == {}
    assert harness.ec2.actions() == [("accept", A, ("vpce-00000001",))]
    assert len(harness.bus.events) == 1


def test_throttled_item_is_retried_once_within_the_invocation() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.ec2.item_failures["vpce-00000001"] = [ItemFailure("RequestLimitExceeded", "slow")]

    outcome = harness.run([("m1", body(connection))])

    assert outcome.failures == {}
    assert len(harness.ec2.actions()) == 2
    assert harness.decided()["vpce-00000001"].action.result == "succeeded"


def test_item_throttled_twice_goes_back_to_the_queue_and_succeeds_later() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.ec2.item_failures["vpce-00000001"] = [
        ItemFailure("RequestLimitExceeded", "slow"),
        ItemFailure("RequestLimitExceeded", "slow"),
    ]

    first = harness.run([("m1", body(connection))])
    second = harness.run([("m1", body(connection))])

    assert set(first.failures) == {"m1"}
    assert harness.bus.events[0].detail.endpoint_id == "vpce-00000001"  # type: ignore[attr-defined]
    assert second.failures == {}
    assert harness.state("vpce-00000001") == "available"


def test_unsuccessful_item_of_a_deleted_connection_is_reported_not_retried() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.ec2.item_failures["vpce-00000001"] = [
        ItemFailure("InvalidVpcEndpointId.NotFound", "The endpoint was deleted")
    ]

    outcome = harness.run([("m1", body(connection))])

    assert outcome.failures == {}
    action = harness.decided()["vpce-00000001"].action
    assert (action.type, action.result) == ("accept", "failed")
    assert action.error == "InvalidVpcEndpointId.NotFound: The endpoint was deleted"


def test_unsuccessful_item_already_in_the_wanted_state_is_success() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.ec2.item_failures["vpce-00000001"] = [ItemFailure("InvalidState", "not pending")]
    harness.ec2.connections_by_id["vpce-00000001"] = connection
    original = harness.ec2.connections

    def accepted_meanwhile(service_id: str | None, endpoint_ids: Sequence[str]) -> Any:
        found = original(service_id, endpoint_ids)
        if harness.ec2.actions():
            found = {e: pending(e, state="available") for e in found}
        return found

    harness.ec2.connections = accepted_meanwhile  # type: ignore[method-assign]

    harness.run([("m1", body(connection))])

    assert harness.decided()["vpce-00000001"].action.result == "succeeded"


def test_a_failed_accept_call_fails_its_records_and_never_accepts() -> None:
    connections = [pending("vpce-00000001"), pending("vpce-00000003", account=SANDBOX)]
    harness = Harness(connections)
    harness.ec2.call_error = AccessDenied("AcceptVpcEndpointConnections", "AccessDenied", "no")

    outcome = harness.run([(f"m{i}", body(c)) for i, c in enumerate(connections)])

    assert set(outcome.failures) == {"m0", "m1"}
    assert harness.bus.events == []
    assert harness.log.items == []


def test_a_failed_describe_fails_that_services_records_only() -> None:
    connections = [pending("vpce-00000001")]
    harness = Harness(connections)
    harness.ec2.describe_error = Throttled("DescribeVpcEndpointConnections", "Throttling", "x")

    outcome = harness.run([("m1", body(connections[0]))])

    assert set(outcome.failures) == {"m1"}
    assert harness.ec2.actions() == []


def test_a_body_that_is_not_a_requested_event_fails_alone() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])

    outcome = harness.run([("bad", '{"detail-type": "Something"}'), ("m1", body(connection))])

    assert set(outcome.failures) == {"bad"}
    assert len(harness.bus.events) == 1


def test_a_connection_no_longer_pending_is_ignored_without_a_call() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([pending("vpce-00000001", state="available")])

    harness.run([("m1", body(connection))])

    decided = harness.decided()["vpce-00000001"]
    assert (decided.decision, decided.action.type) == ("ignore", "none")
    assert harness.ec2.actions() == []


def test_a_decided_event_not_put_is_put_on_redelivery_without_acting_again() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])
    harness.bus.fail_next = 1

    first = harness.run([("m1", body(connection))])
    second = harness.run([("m1", body(connection))])

    assert set(first.failures) == {"m1"}
    assert second.failures == {}
    assert second.duplicates == ["m1"]
    assert len(harness.ec2.actions()) == 1
    assert [e.detail.endpoint_id for e in harness.bus.events] == ["vpce-00000001"]  # type: ignore[attr-defined]


def test_a_request_claimed_by_another_invocation_is_retried_later() -> None:
    connection = pending("vpce-00000001")
    harness = Harness([connection])

    class BusyGuard(MemoryGuard):
        def claim(self, key: Mapping[str, str], remaining_ms: int | None) -> Claim:
            return Claim("busy")

    harness.guard = BusyGuard()

    outcome = harness.run([("m1", body(connection))])

    assert set(outcome.failures) == {"m1"}
    assert harness.ec2.actions() == []


def test_an_idempotency_store_failure_fails_only_that_request() -> None:
    connections = [pending("vpce-00000001"), pending("vpce-00000002")]
    harness = Harness(connections)

    class FlakyGuard(MemoryGuard):
        def claim(self, key: Mapping[str, str], remaining_ms: int | None) -> Claim:
            if key["endpoint_id"] == "vpce-00000002":
                raise Throttled("PutItem", "ProvisionedThroughputExceededException", "slow")
            return super().claim(key, remaining_ms)

    harness.guard = FlakyGuard()

    outcome = harness.run([(f"m{i}", body(c)) for i, c in enumerate(connections)])

    assert set(outcome.failures) == {"m1"}
    assert harness.ec2.actions() == [("accept", A, ("vpce-00000001",))]


def test_revocation_is_reported_by_one_sweep_and_enforced_by_the_next() -> None:
    available = pending("vpce-00000003", account=SANDBOX, state="available")
    harness = Harness([available])

    harness.run([("m1", body(available, "revocation", "sweep-1"))])
    reported = harness.decided()["vpce-00000003"]
    harness.run([("m2", body(available, "revocation", "sweep-2"))])

    assert (reported.revocation, reported.action.type) == ("reported", "none")
    assert harness.ec2.actions() == [("reject", A, ("vpce-00000003",))]
    enforced = cast(DecidedDetail, harness.bus.events[-1].detail)
    assert (enforced.revocation, enforced.action.result) == ("enforced", "succeeded")
    assert harness.state("vpce-00000003") == "rejected"


def test_revocation_check_of_an_allowed_connection_publishes_nothing() -> None:
    available = pending("vpce-00000001", state="available")
    harness = Harness([available])

    outcome = harness.run([("m1", body(available, "revocation", "sweep-1"))])

    assert outcome.failures == {}
    assert harness.bus.events == []
    assert harness.log.items == []


def test_hold_expired_request_is_rejected_when_policy_still_holds() -> None:
    old = pending("vpce-00000004", account=PARTNER, age=timedelta(days=30))
    expiring = PolicySet.from_documents(
        [
            PolicyDocument(
                "policies/acceptor.yaml",
                PolicyFile.model_validate(
                    {"version": 1, "services": ["*"], "hold": {"expires_after": "72h"}}
                ),
            )
        ]
    )
    harness = Harness([old])
    deps = DecideDeps(
        ec2=harness.ec2,
        consumers=harness.consumers,
        organizations=OrganizationsReader(None),
        bus=harness.bus,
        guard=harness.guard,
        log=None,
        clock=lambda: NOW,
    )

    decide_batch(
        [("m1", body(old, "hold-expired"))], expiring, deps, dry_run=False, ttl=timedelta(1)
    )

    assert harness.ec2.actions() == [("reject", A, ("vpce-00000004",))]


def test_a_consumer_at_its_limit_gets_its_third_endpoint_rejected_counted_from_ec2() -> None:
    # Given a limit of 2 on service A, one connection already available and two requested,
    # the later one last
    available = pending("vpce-00000001", account=PAYMENTS, state="available", age=DAY)
    second = pending("vpce-00000002", account=PAYMENTS, age=timedelta(minutes=2))
    third = pending("vpce-00000003", account=PAYMENTS, age=timedelta(minutes=1))
    harness = Harness([available, second, third], limited_policy(2, "reject"))

    # When both requests are decided in one batch
    outcome = harness.run([("m2", body(second)), ("m3", body(third))])

    # Then the service's connections are listed once, the second is accepted, the third rejected
    assert outcome.failures == {}
    assert harness.ec2.calls.count(("list-service", A, ())) == 1
    decided = harness.decided()
    assert (decided["vpce-00000002"].decision, decided["vpce-00000002"].rule) == (
        "accept",
        "payments",
    )
    assert decided["vpce-00000003"].decision == "reject"
    assert decided["vpce-00000003"].rule is None
    assert decided["vpce-00000003"].reason.startswith(
        f"Rejected: account {PAYMENTS} has 3 connections to {A} (this request included), "
        "over the limit of 2 per account set by policies/a.yaml."
    )
    assert harness.state("vpce-00000002") == "available"
    assert harness.state("vpce-00000003") == "rejected"


def test_connections_that_cannot_be_listed_hold_an_accept_a_limit_governs() -> None:
    request = pending("vpce-00000002", account=PAYMENTS)
    harness = Harness([request], limited_policy(5, "reject"))
    harness.ec2.list_error = Throttled("DescribeVpcEndpointConnections", "Throttling", "x")

    outcome = harness.run([("m", body(request))])

    assert outcome.failures == {}
    decided = harness.decided()["vpce-00000002"]
    assert decided.decision == "hold"
    assert "is unknown" in decided.reason
    assert harness.ec2.actions() == []
    assert harness.state("vpce-00000002") == "pendingAcceptance"


def test_a_service_no_limit_governs_is_not_listed() -> None:
    request = pending("vpce-00000005", account=PAYMENTS, service_id=B)
    harness = Harness([request], limited_policy(1, "reject"))

    harness.run([("m", body(request))])

    assert harness.decided()["vpce-00000005"].decision == "accept"
    assert [call for call in harness.ec2.calls if call[0] == "list-service"] == []


def test_decided_events_are_put_in_chunks_and_a_failed_chunk_leaves_the_earlier_ones_put() -> None:
    # Given more decisions than one chunk, and a bus that fails its second put
    connections = [pending(f"vpce-{n:08x}") for n in range(1, PUBLISH_CHUNK + 51)]
    harness = Harness(connections)

    class SecondPutFails(FakeBus):
        calls = 0

        def try_put(self, events: Sequence[BusEvent]) -> list[FailedEntry]:
            self.calls += 1
            if self.calls == 2:
                raise Throttled("PutEvents", "ThrottlingException", "slow down")
            return super().try_put(events)

    harness.bus = SecondPutFails()

    # When the batch is decided
    outcome = harness.run([(f"m{i}", body(c)) for i, c in enumerate(connections)])

    # Then the first chunk is out and complete, the rest is retried by the queue
    put = {cast(DecidedDetail, e.detail).endpoint_id for e in harness.bus.events}
    assert len(put) == PUBLISH_CHUNK
    assert len(outcome.failures) == 50
    failed = {connections[int(m[1:])].endpoint_id for m in outcome.failures}
    assert failed.isdisjoint(put)
