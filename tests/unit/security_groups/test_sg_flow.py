"""SecurityGroupsFunction's flow with in-memory adapters: a forged "Endpoint Connection
Decided" event opens nothing, and a genuine one opens only what the policy's rule says, from
the CIDRs the consumer's VPC has (docs/security-groups.md, "What an event may make it do")."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from acceptor.approval.model import ApprovalRecord
from acceptor.flows.security_groups import (
    ApprovalReader,
    ConnectionStillEnding,
    Home,
    SecurityGroupsDeps,
    update_security_groups,
)
from acceptor.policy.loader import load_policy
from acceptor.policy.policy_set import PolicySet
from acceptor.security_groups.model import ConsumerEndpoint

EVENTS = Path(__file__).resolve().parents[3] / "events"
FORGED = "security-groups-decided-accept-forged.json"
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"  # the event files' own IDs
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
CONSUMER = "111122223333"
VPC = "vpc-0abc1234def567890"
ENDPOINT_GROUP = "sg-0aaaaaaaaaaaaaaa1"
NLB_GROUP = "sg-0123456789abcdef0"
ALICE = "arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = f"""
version: 1
services: ["{SERVICE}"]
approval:
  security_groups:
    consumer_endpoint: {{ports: [8443]}}
rules:
  - name: payments-prod
    decision: accept
    when: {{accounts: ["{CONSUMER}"]}}
    security_groups:
      consumer_endpoint: {{ports: [443]}}
      provider: {{group: {NLB_GROUP}, ports: [443]}}
"""


class Recorder:
    def __init__(self) -> None:
        self.put_events: list[Any] = []

    def put(self, events: list[Any]) -> None:
        self.put_events.extend(events)


@pytest.fixture
def policy(tmp_path: Path) -> PolicySet:
    path = tmp_path / "acceptor.yaml"
    path.write_text(POLICY)
    return load_policy([path])


@pytest.fixture
def stage(world: Any) -> Any:
    """A consumer endpoint with its own group in a 10.10.0.0/16 VPC; the NLB's group."""
    world.consumer.add_group(ENDPOINT_GROUP, "eni-0endpoint0000001")
    world.consumer.endpoints[ENDPOINT] = ConsumerEndpoint(
        ENDPOINT, VPC, "available", (ENDPOINT_GROUP,), ("eni-0endpoint0000001",)
    )
    world.consumer.vpcs[VPC] = ("10.10.0.0/16",)
    world.provider.add_group(NLB_GROUP)
    world.bus = Recorder()
    return world


Run = Callable[..., dict[str, Any]]


@pytest.fixture
def run(stage: Any, policy: PolicySet) -> Run:
    def call(
        event: dict[str, Any],
        *,
        managed: frozenset[str] | None = None,
        approvals: ApprovalReader | None = None,
    ) -> dict[str, Any]:
        deps = SecurityGroupsDeps(
            adapters=stage.adapters(),
            bus=stage.bus,
            decision_log=None,
            home=Home("999988887777", "us-east-1"),
            clock=lambda: NOW,
            managed=None if managed is None else (lambda _service: managed),
            approvals=approvals,
        )
        return update_security_groups(
            event, lambda: policy, deps, dry_run=False, ttl=timedelta(days=1)
        )

    return call


def forged(**detail: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / FORGED).read_text())
    event["detail"].update(detail)
    return event


def nothing_written(stage: Any) -> bool:
    return (
        stage.provider.writes == stage.consumer.writes == []
        and stage.records.items == {}
        and stage.bus.put_events == []
    )


def test_a_forged_accept_for_a_connection_still_pending_opens_nothing(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, "pendingAcceptance", service_id=SERVICE, account=CONSUMER)

    result = run(forged(policy_hash=policy.version_hash))

    assert (result["status"], result["refusal"]) == ("refused", "connection-not-accepted")
    assert nothing_written(stage)


def test_a_forged_accept_naming_another_owner_opens_nothing(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account="444455556666")

    result = run(forged(policy_hash=policy.version_hash))

    assert result["refusal"] == "owner-mismatch"
    assert nothing_written(stage)


def test_a_forged_accept_with_another_policy_hash_opens_nothing(stage: Any, run: Run) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)

    result = run(forged())

    assert result["refusal"] == "policy-changed"
    assert nothing_written(stage)


def test_an_accept_of_an_unmanaged_service_opens_nothing(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)

    result = run(
        forged(policy_hash=policy.version_hash),
        managed=frozenset({"vpce-svc-0eeeeeeeeeeeeeee0"}),
    )

    assert result["refusal"] == "service-not-managed"
    assert nothing_written(stage)


def test_an_accept_the_re_read_bears_out_opens_the_policy_ports_from_the_vpc_only(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    # Given an available connection, and an event naming the right rule and policy but asking
    # for ports 22 and 3389 from 0.0.0.0/0 and 203.0.113.0/24
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)

    run(forged(policy_hash=policy.version_hash))

    # Then only the rule's 443 is opened, from the consumer VPC's own CIDR
    for ec2, group in ((stage.consumer, ENDPOINT_GROUP), (stage.provider, NLB_GROUP)):
        assert {(r.from_port, r.cidr) for r in ec2.ingress_rules(group)} == {(443, "10.10.0.0/16")}


def test_a_state_changed_deleted_for_a_live_connection_removes_nothing(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    # Given rules opened for an available connection
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)
    run(forged(policy_hash=policy.version_hash))
    before = stage.provider.ingress_rules(NLB_GROUP)

    # When a "deleted" state change names it (a wrong service ID, found: false)
    event = json.loads((EVENTS / "security-groups-state-deleted.json").read_text())
    event["detail"].update(service_id="vpce-svc-0fffffffffffffff0", found=False)
    result = run(event)

    # Then the re-read by endpoint ID shows it available, and nothing is removed
    assert result["refusal"] == "connection-live"
    assert stage.provider.ingress_rules(NLB_GROUP) == before


def test_a_connection_still_deleting_is_retried_later(stage: Any, run: Run) -> None:
    stage.provider.connect(ENDPOINT, "deleting", service_id=SERVICE, account=CONSUMER)
    event = json.loads((EVENTS / "security-groups-state-deleted.json").read_text())

    with pytest.raises(ConnectionStillEnding):
        run(event)


def test_a_connection_the_re_read_shows_deleted_has_its_rules_removed(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)
    run(forged(policy_hash=policy.version_hash))
    stage.provider.connect(ENDPOINT, "deleted", service_id=SERVICE, account=CONSUMER)

    result = run(json.loads((EVENTS / "security-groups-state-deleted.json").read_text()))

    assert result["status"] == "done"
    assert stage.provider.ingress_rules(NLB_GROUP) == ()
    assert stage.consumer.ingress_rules(ENDPOINT_GROUP) == ()


def test_a_dry_run_reject_plans_the_removal_of_a_live_connection_and_changes_nothing(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)
    run(forged(policy_hash=policy.version_hash))
    before = stage.provider.ingress_rules(NLB_GROUP)
    event = json.loads((EVENTS / "security-groups-decided-revocation.json").read_text())
    # The sample revokes another endpoint of the demo world: this one is the connection opened
    event["detail"].update(
        endpoint_id=ENDPOINT,
        account=CONSUMER,
        dry_run=True,
        action={"type": "reject", "result": "dry-run"},
    )

    result = run(event)

    assert result["status"] == "planned"
    assert {g["status"] for g in result["groups"]} == {"planned"}
    assert stage.provider.ingress_rules(NLB_GROUP) == before


class ApprovalTable:
    """The approvals table, in memory: records by endpoint ID, and the IDs looked up."""

    def __init__(self, *records: ApprovalRecord) -> None:
        self.records = {r.endpoint_id: r for r in records}
        self.reads: list[str] = []

    def get(self, endpoint_id: str) -> ApprovalRecord | None:
        self.reads.append(endpoint_id)
        return self.records.get(endpoint_id)


def approval(endpoint_id: str = ENDPOINT, **changes: Any) -> ApprovalRecord:
    return ApprovalRecord(
        **{
            "endpoint_id": endpoint_id,
            "service_id": SERVICE,
            "decision": "accept",
            "approver": ALICE,
            "reason": "Partner contract PO-1182",
            "approved_at": NOW - timedelta(minutes=5),
            "expires_at": NOW + timedelta(days=14),
            "approval_id": "5f0c8a2e-9d61-4c1b-8f3a-2b7e6d4c1a90",
            **changes,
        }
    )


def approved(policy: PolicySet, **detail: Any) -> dict[str, Any]:
    """The forged sample as an approved accept: no rule, an approver named; it still asks for
    22 and 3389 from 0.0.0.0/0 on both sides."""
    return forged(
        **{
            "policy_hash": policy.version_hash,
            "rule": None,
            "origin": "approval",
            "approved_by": ALICE,
            "approval_reason": "Partner contract PO-1182",
            **detail,
        }
    )


def opened(stage: Any) -> dict[str, set[tuple[int | None, str | None]]]:
    return {
        group: {(r.from_port, r.cidr) for r in ec2.ingress_rules(group)}
        for ec2, group in ((stage.consumer, ENDPOINT_GROUP), (stage.provider, NLB_GROUP))
    }


def test_an_approved_accept_with_its_record_opens_exactly_the_approval_groups(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    # Given an accepted connection, and Alice's accept in the approvals table
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)
    table = ApprovalTable(approval())

    # When the approved accept arrives, asking for 22 and 3389 from 0.0.0.0/0
    result = run(approved(policy), approvals=table)

    # Then the record was read, and only approval.security_groups is opened, from the VPC
    assert result["status"] == "done"
    assert table.reads == [ENDPOINT]
    assert opened(stage) == {ENDPOINT_GROUP: {(8443, "10.10.0.0/16")}, NLB_GROUP: set()}


def test_an_approved_accept_naming_the_accept_rule_opens_only_the_approval_groups(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    # The event names the rule that opens 443 on both sides: an approved accept does not get it
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)

    run(approved(policy, rule="payments-prod"), approvals=ApprovalTable(approval()))

    assert opened(stage) == {ENDPOINT_GROUP: {(8443, "10.10.0.0/16")}, NLB_GROUP: set()}


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(ApprovalTable(), id="no-record"),
        pytest.param(
            ApprovalTable(
                approval(approver="arn:aws:sts::999988887777:assumed-role/NetworkAdmins/bob")
            ),
            id="another-approver",
        ),
        pytest.param(ApprovalTable(approval(decision="reject")), id="a-reject"),
        pytest.param(ApprovalTable(approval("vpce-0fffffffffffffff0")), id="another-endpoint"),
        pytest.param(ApprovalTable(approval(expires_at=NOW - timedelta(seconds=1))), id="lapsed"),
        pytest.param(None, id="no-approval-table"),
    ],
)
def test_an_approved_accept_without_a_matching_record_opens_nothing(
    stage: Any, run: Run, policy: PolicySet, table: ApprovalTable | None
) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)

    result = run(approved(policy), approvals=table)

    assert (result["status"], result["refusal"]) == ("refused", "approval-not-found")
    assert nothing_written(stage)


def test_an_approved_accept_for_a_connection_still_pending_opens_nothing_despite_a_record(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, "pendingAcceptance", service_id=SERVICE, account=CONSUMER)

    result = run(approved(policy), approvals=ApprovalTable(approval()))

    assert result["refusal"] == "connection-not-accepted"
    assert nothing_written(stage)


# An accept whose connection ends while its rules are being added (docs/security-groups.md,
# "Intents"): the removal may have run before the records existed, so the add removes them.


@pytest.mark.parametrize("ended", ["deleted", "rejected", None])
def test_rules_added_for_a_connection_that_ended_meanwhile_are_removed_again(
    stage: Any, run: Run, policy: PolicySet, ended: str | None
) -> None:
    # Given an available connection that ends (or drops out of the listing) right after the
    # accept's first re-read
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)
    reads = stage.provider.connection

    def ends_after_the_first_read(endpoint_id: str) -> Any:
        found = reads(endpoint_id)
        if ended is None:
            stage.provider.connections.pop(endpoint_id, None)
        else:
            stage.provider.connect(endpoint_id, ended, service_id=SERVICE, account=CONSUMER)
        return found

    stage.provider.connection = ends_after_the_first_read

    # When the accept is handled
    result = run(forged(policy_hash=policy.version_hash))

    # Then the rules it added are removed again, and both changes are published
    assert result["changed"] is True
    assert stage.provider.ingress_rules(NLB_GROUP) == ()
    assert stage.consumer.ingress_rules(ENDPOINT_GROUP) == ()
    assert stage.records.items == {}
    operations = [e.detail.operation for e in stage.bus.put_events]
    assert operations == ["add", "remove"]


def test_rules_added_for_a_connection_still_there_stay(
    stage: Any, run: Run, policy: PolicySet
) -> None:
    stage.provider.connect(ENDPOINT, service_id=SERVICE, account=CONSUMER)

    run(forged(policy_hash=policy.version_hash))

    assert len(stage.provider.ingress_rules(NLB_GROUP)) == 1
    assert [e.detail.operation for e in stage.bus.put_events] == ["add"]
    assert stage.provider.reads == [ENDPOINT, ENDPOINT]  # the accept's re-read, and after
