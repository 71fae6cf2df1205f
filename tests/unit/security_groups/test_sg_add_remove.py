"""The add/remove sequence against in-memory adapters: what is opened, what is left, and why."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from acceptor.policy.model import SecurityGroups
from acceptor.security_groups.add import add_rules
from acceptor.security_groups.model import ConsumerEndpoint, LoadBalancer, Permission, Report
from acceptor.security_groups.ports import Request
from acceptor.security_groups.remove import remove_rules

ENDPOINT = "vpce-0a1b2c3d4e5f60718"
SERVICE = "vpce-svc-0123456789abcdef0"
CONSUMER = "999988887777"
PROVIDER = "111122223333"
VPC = "vpc-0abc1234def567890"
ENDPOINT_GROUP = "sg-0aaaaaaaaaaaaaaa1"
NLB_GROUP = "sg-0bbbbbbbbbbbbbbb1"
V4 = "10.1.0.0/16"
V6 = "2600:1f18:abcd:1200::/56"
SPEC: dict[str, Any] = {
    "consumer_endpoint": {"ports": [443]},
    "provider": {"group": NLB_GROUP, "ports": [443]},
}


def request(
    *, dry_run: bool = False, spec: dict[str, Any] | None = None, **overrides: Any
) -> Request:
    values: dict[str, Any] = {
        "endpoint_id": ENDPOINT,
        "service_id": SERVICE,
        "account": CONSUMER,
        "region": "eu-west-1",
        "provider_account": PROVIDER,
        "provider_region": "eu-west-1",
        "trigger": "accept",
        "dry_run": dry_run,
        "spec": SecurityGroups.model_validate(SPEC if spec is None else spec),
    }
    values.update(overrides)
    return Request(**values)


@pytest.fixture
def accepted(world: Any) -> Any:
    """A consumer endpoint with its own group, a VPC with IPv4 and IPv6, an NLB with a group."""
    world.consumer.add_group(ENDPOINT_GROUP, "eni-0endpoint0000001")
    world.consumer.endpoints[ENDPOINT] = ConsumerEndpoint(
        ENDPOINT, VPC, "available", (ENDPOINT_GROUP,), ("eni-0endpoint0000001",)
    )
    world.consumer.vpcs[VPC] = (V4, V6)
    world.provider.add_group(NLB_GROUP)
    world.provider.balancers = (LoadBalancer("arn:nlb", (NLB_GROUP,), "on"),)
    return world


def by_group(report: Report) -> dict[str, Any]:
    return {group.group_id: group for group in report.groups}


def codes(report: Report) -> list[str]:
    return [finding.code for finding in report.findings]


def test_accept_opens_the_ports_from_both_vpc_cidrs_on_both_sides(accepted: Any) -> None:
    report = add_rules(request(), accepted.adapters())

    groups = by_group(report)
    assert groups[ENDPOINT_GROUP].status == "added"
    assert groups[NLB_GROUP].status == "added"
    for group_id, ec2 in ((ENDPOINT_GROUP, accepted.consumer), (NLB_GROUP, accepted.provider)):
        granted = {(r.from_port, r.cidr) for r in ec2.ingress_rules(group_id)}
        assert granted == {(443, V4), (443, V6)}
        recorded = accepted.records.items[(ENDPOINT, group_id)].rule_ids
        assert recorded == {r.rule_id for r in ec2.ingress_rules(group_id)}
    assert report.cidrs == (V4, V6)
    assert report.cidrs_from == "consumer-role"
    assert report.findings == ()


def test_redelivery_adds_nothing_and_reports_our_rules_as_present(accepted: Any) -> None:
    add_rules(request(), accepted.adapters())
    writes = list(accepted.consumer.writes + accepted.provider.writes)

    again = add_rules(request(), accepted.adapters())

    assert accepted.consumer.writes + accepted.provider.writes == writes
    assert {g.status for g in again.groups} == {"unchanged"}
    assert all(rule.rule_id for g in again.groups for rule in g.present)


def test_someone_elses_identical_rule_is_not_recorded_and_survives_removal(
    accepted: Any,
) -> None:
    theirs = accepted.provider.add_rule(NLB_GROUP, Permission(443, V4))

    add_rules(request(), accepted.adapters())
    remove_rules(request(trigger="state:deleted"), accepted.adapters())

    assert [r.rule_id for r in accepted.provider.ingress_rules(NLB_GROUP)] == [theirs]
    assert accepted.consumer.ingress_rules(ENDPOINT_GROUP) == ()
    assert accepted.records.items == {}


def test_a_shared_group_is_left_untouched_and_reported_without_opt_in(accepted: Any) -> None:
    accepted.consumer.interfaces[ENDPOINT_GROUP].append("eni-0someoneelse0001")

    report = add_rules(request(), accepted.adapters())

    group = by_group(report)[ENDPOINT_GROUP]
    assert group.status == "skipped"
    assert group.shared_with == ("eni-0someoneelse0001",)
    assert "shared-group" in codes(report)
    assert accepted.consumer.ingress_rules(ENDPOINT_GROUP) == ()


def test_a_shared_group_is_patched_with_opt_in_and_the_record_says_so(accepted: Any) -> None:
    accepted.consumer.interfaces[ENDPOINT_GROUP].append("eni-0someoneelse0001")
    spec = {"consumer_endpoint": {"ports": [443], "allow_shared_groups": True}}

    report = add_rules(request(spec=spec), accepted.adapters())

    group = by_group(report)[ENDPOINT_GROUP]
    assert group.status == "added"
    assert group.shared_with == ("eni-0someoneelse0001",)


def test_without_the_consumer_role_nothing_is_opened_on_either_side(accepted: Any) -> None:
    accepted.consumer_error = "AccessDenied assuming the consumer role"

    report = add_rules(request(), accepted.adapters())

    assert by_group(report)[NLB_GROUP].status == "skipped"
    assert report.cidrs_from is None
    assert {"consumer-unavailable", "cidrs-unknown"} <= set(codes(report))
    assert accepted.provider.writes == []


def test_unknown_cidrs_open_nothing_and_warn_when_the_nlb_enforces(accepted: Any) -> None:
    accepted.consumer_error = "no consumer role configured"
    accepted.provider.balancers = (LoadBalancer("arn:nlb", (NLB_GROUP,), "unknown"),)

    report = add_rules(request(), accepted.adapters())

    assert by_group(report)[NLB_GROUP].status == "skipped"
    assert {"cidrs-unknown", "nlb-enforces-unknown-cidrs"} <= set(codes(report))
    assert accepted.provider.writes == []
    assert accepted.records.items == {}


def test_unknown_cidrs_with_enforcement_off_do_not_warn_about_the_nlb(accepted: Any) -> None:
    accepted.consumer_error = "no consumer role configured"
    accepted.provider.balancers = (LoadBalancer("arn:nlb", (NLB_GROUP,), "off"),)

    report = add_rules(request(), accepted.adapters())

    assert "nlb-enforces-unknown-cidrs" not in codes(report)
    assert "cidrs-unknown" in codes(report)


def test_a_cidr_wider_than_a_vpc_is_refused_and_the_rest_is_opened(accepted: Any) -> None:
    accepted.consumer.vpcs[VPC] = ("0.0.0.0/0", V4)

    report = add_rules(request(), accepted.adapters())

    assert "cidr-refused" in codes(report)
    cidrs = {r.cidr for g in (ENDPOINT_GROUP,) for r in accepted.consumer.ingress_rules(g)}
    assert cidrs == {V4}


def test_a_connection_whose_endpoint_is_gone_gets_nothing(accepted: Any) -> None:
    del accepted.consumer.endpoints[ENDPOINT]

    report = add_rules(request(), accepted.adapters())

    assert report.groups == ()
    assert codes(report) == ["endpoint-not-found"]
    assert accepted.provider.writes == []


def test_an_endpoint_being_deleted_gets_nothing(accepted: Any) -> None:
    accepted.consumer.endpoints[ENDPOINT] = ConsumerEndpoint(
        ENDPOINT, VPC, "Deleting", (ENDPOINT_GROUP,), ()
    )

    report = add_rules(request(), accepted.adapters())

    assert report.groups == ()
    assert accepted.provider.writes == accepted.consumer.writes == []


def test_dry_run_plans_and_changes_nothing(accepted: Any) -> None:
    report = add_rules(request(dry_run=True), accepted.adapters())

    assert {g.status for g in report.groups} == {"planned"}
    planned = {(a.permission.port, a.permission.cidr) for g in report.groups for a in g.added}
    assert planned == {(443, V4), (443, V6)}
    assert accepted.provider.writes == accepted.consumer.writes == []
    assert accepted.records.items == {}


def test_dry_run_removal_lists_what_would_go_and_keeps_it(accepted: Any) -> None:
    add_rules(request(), accepted.adapters())

    report = remove_rules(request(dry_run=True), accepted.adapters())

    assert {g.status for g in report.groups} == {"planned"}
    assert sum(len(g.removed) for g in report.groups) == 4
    assert len(accepted.records.items) == 2
    assert len(accepted.provider.ingress_rules(NLB_GROUP)) == 2


def test_denied_writes_fail_the_group_and_record_no_rule(accepted: Any) -> None:
    accepted.consumer.deny_writes = True

    report = add_rules(request(), accepted.adapters())

    assert by_group(report)[ENDPOINT_GROUP].status == "failed"
    assert by_group(report)[NLB_GROUP].status == "added"
    assert "access-denied" in codes(report)
    assert accepted.records.items[(ENDPOINT, ENDPOINT_GROUP)].rule_ids == frozenset()


def test_a_rule_created_before_a_crash_is_adopted_on_redelivery(accepted: Any) -> None:
    add_rules(request(), accepted.adapters())
    key = (ENDPOINT, NLB_GROUP)
    accepted.records.items[key] = replace(accepted.records.items[key], rule_ids=frozenset())

    report = add_rules(request(), accepted.adapters())

    assert by_group(report)[NLB_GROUP].status == "unchanged"
    recorded = accepted.records.items[key].rule_ids
    assert recorded == {r.rule_id for r in accepted.provider.ingress_rules(NLB_GROUP)}


def test_removal_without_the_consumer_role_keeps_the_record_for_later(accepted: Any) -> None:
    add_rules(request(), accepted.adapters())
    accepted.consumer_error = "AccessDenied"

    report = remove_rules(request(trigger="state:deleted"), accepted.adapters())

    assert by_group(report)[ENDPOINT_GROUP].status == "failed"
    assert by_group(report)[NLB_GROUP].status == "removed"
    assert {"consumer-unavailable", "record-kept"} <= set(codes(report))
    assert list(accepted.records.items) == [(ENDPOINT, ENDPOINT_GROUP)]


def test_removal_of_rules_already_gone_is_success(accepted: Any) -> None:
    add_rules(request(), accepted.adapters())
    accepted.provider.rules[NLB_GROUP] = []

    report = remove_rules(request(trigger="reject"), accepted.adapters())

    assert by_group(report)[NLB_GROUP].status == "unchanged"
    assert (ENDPOINT, NLB_GROUP) not in accepted.records.items


def test_the_provider_group_not_on_the_nlb_is_patched_with_a_warning(accepted: Any) -> None:
    accepted.provider.balancers = (LoadBalancer("arn:nlb", ("sg-0ccccccccccccccc1",), "on"),)

    report = add_rules(request(), accepted.adapters())

    assert by_group(report)[NLB_GROUP].status == "added"
    assert "group-not-on-load-balancer" in codes(report)


def test_no_security_groups_in_the_rule_means_no_call_at_all(world: Any) -> None:
    report = add_rules(request(spec={}), world.adapters())

    assert report.groups == ()
    assert report.findings == ()
    assert world.provider.writes == world.consumer.writes == []


def test_the_report_is_the_event_detail(accepted: Any) -> None:
    report = add_rules(request(), accepted.adapters())

    detail = report.to_detail(correlation_id="c-1", updated_at="2026-01-01T00:00:00+00:00")

    assert detail["operation"] == "add"
    assert detail["changed"] is True
    assert {g["group_id"] for g in detail["groups"]} == {ENDPOINT_GROUP, NLB_GROUP}
    assert detail["groups"][0]["added"][0]["protocol"] == "tcp"


# Shared rules (docs/security-groups.md, "Shared rules"): every default VPC is 172.31.0.0/16,
# so connections from different consumers often need the very same rule in the provider group.
DEFAULT_VPC = "172.31.0.0/16"
PROVIDER_ONLY: dict[str, Any] = {"provider": {"group": NLB_GROUP, "ports": [443]}}
OTHERS = ("vpce-0b0000000000000b1", "vpce-0c0000000000000c1")


def connect(world: Any, endpoint_id: str) -> None:
    """A connection from a default VPC, accepted and available, with its endpoint readable."""
    vpc = f"vpc-{endpoint_id[5:]}"
    world.consumer.endpoints[endpoint_id] = ConsumerEndpoint(endpoint_id, vpc, "available", (), ())
    world.consumer.vpcs[vpc] = (DEFAULT_VPC,)
    world.provider.connect(endpoint_id)


@pytest.fixture
def shared(world: Any) -> Any:
    """Three connections from default VPCs, each accepted with the same provider rule."""
    world.provider.add_group(NLB_GROUP)
    for endpoint_id in (ENDPOINT, *OTHERS):
        connect(world, endpoint_id)
        add_rules(request(endpoint_id=endpoint_id, spec=PROVIDER_ONLY), world.adapters())
    return world


def end(world: Any, endpoint_id: str, state: str = "deleted") -> Report:
    world.provider.connect(endpoint_id, state)
    return remove_rules(
        request(endpoint_id=endpoint_id, trigger=f"state:{state}"), world.adapters()
    )


def test_one_rule_serves_every_connection_that_needs_it_and_each_holds_it(shared: Any) -> None:
    (rule,) = shared.provider.ingress_rules(NLB_GROUP)

    assert (rule.from_port, rule.cidr) == (443, DEFAULT_VPC)
    assert shared.records.holders(NLB_GROUP, rule.rule_id) == {ENDPOINT, *OTHERS}
    for endpoint_id in (ENDPOINT, *OTHERS):
        assert shared.records.items[(endpoint_id, NLB_GROUP)].rule_ids == {rule.rule_id}


def test_with_two_holders_the_first_gone_leaves_the_rule_for_the_second(world: Any) -> None:
    # Given two connections from default VPCs holding one provider rule
    world.provider.add_group(NLB_GROUP)
    for endpoint_id in (ENDPOINT, OTHERS[0]):
        connect(world, endpoint_id)
        add_rules(request(endpoint_id=endpoint_id, spec=PROVIDER_ONLY), world.adapters())
    (rule,) = world.provider.ingress_rules(NLB_GROUP)

    # When the first is deleted
    report = end(world, ENDPOINT)

    # Then the rule stays for the second, which still holds it alone
    assert world.provider.ingress_rules(NLB_GROUP) == (rule,)
    assert by_group(report)[NLB_GROUP].kept == (rule.rule_id,)
    assert "rule-still-held" in codes(report)
    assert world.records.holders(NLB_GROUP, rule.rule_id) == {OTHERS[0]}
    assert (ENDPOINT, NLB_GROUP) not in world.records.items

    # And when the second goes too, the rule goes with it
    end(world, OTHERS[0])
    assert world.provider.ingress_rules(NLB_GROUP) == ()
    assert world.records.holding == {}
    assert world.records.items == {}


def test_with_three_holders_the_rule_goes_only_with_the_last(shared: Any) -> None:
    (rule,) = shared.provider.ingress_rules(NLB_GROUP)

    end(shared, OTHERS[1])
    end(shared, ENDPOINT, "rejected")
    assert shared.provider.ingress_rules(NLB_GROUP) == (rule,)

    report = end(shared, OTHERS[0])
    assert by_group(report)[NLB_GROUP].removed == (rule.rule_id,)
    assert shared.provider.ingress_rules(NLB_GROUP) == ()


def test_a_holder_that_the_re_read_shows_gone_does_not_keep_the_rule(shared: Any) -> None:
    # Two holders ended without their events reaching the function (a lost delivery)
    shared.provider.connect(OTHERS[0], "expired")
    del shared.provider.connections[OTHERS[1]]

    report = end(shared, ENDPOINT)

    assert shared.provider.ingress_rules(NLB_GROUP) == ()
    assert set(shared.provider.reads) >= set(OTHERS)
    assert by_group(report)[NLB_GROUP].kept == ()


def test_a_holder_still_deleting_keeps_the_rule(shared: Any) -> None:
    shared.provider.connect(OTHERS[0], "deleting")
    shared.provider.connect(OTHERS[1], "deleted")

    end(shared, ENDPOINT)

    assert len(shared.provider.ingress_rules(NLB_GROUP)) == 1


def test_someone_elses_rule_is_never_held_or_removed_even_when_it_matches(world: Any) -> None:
    world.provider.add_group(NLB_GROUP)
    theirs = world.provider.add_rule(NLB_GROUP, Permission(443, DEFAULT_VPC))
    connect(world, ENDPOINT)

    report = add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    end(world, ENDPOINT)

    assert by_group(report)[NLB_GROUP].present[0].rule_id == theirs
    assert world.records.holding == {}
    assert [r.rule_id for r in world.provider.ingress_rules(NLB_GROUP)] == [theirs]


# CIDR caps (docs/policy.md, `max_cidrs` and `allow_public_cidrs`).


def test_no_more_cidrs_than_the_cap_are_opened_and_the_rest_are_reported(accepted: Any) -> None:
    accepted.consumer.vpcs[VPC] = tuple(f"10.{n}.0.0/16" for n in range(1, 51))
    spec = {**PROVIDER_ONLY, "max_cidrs": 3}

    report = add_rules(request(spec=spec), accepted.adapters())

    opened = {r.cidr for r in accepted.provider.ingress_rules(NLB_GROUP)}
    assert opened == {"10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"}
    assert codes(report).count("cidr-refused") == 47


def test_the_default_cap_is_five_cidrs(accepted: Any) -> None:
    accepted.consumer.vpcs[VPC] = tuple(f"10.{n}.0.0/16" for n in range(1, 51))

    add_rules(request(spec=PROVIDER_ONLY), accepted.adapters())

    assert len(accepted.provider.ingress_rules(NLB_GROUP)) == 5


def test_a_public_ipv4_block_is_refused_unless_the_policy_allows_it(accepted: Any) -> None:
    accepted.consumer.vpcs[VPC] = ("8.8.0.0/16", V4)

    refused = add_rules(request(spec=PROVIDER_ONLY), accepted.adapters())
    assert {r.cidr for r in accepted.provider.ingress_rules(NLB_GROUP)} == {V4}
    assert "cidr-refused" in codes(refused)

    add_rules(request(spec={**PROVIDER_ONLY, "allow_public_cidrs": True}), accepted.adapters())
    assert {r.cidr for r in accepted.provider.ingress_rules(NLB_GROUP)} == {V4, "8.8.0.0/16"}


def test_the_provider_group_reports_the_rules_it_uses_after_an_add(accepted: Any) -> None:
    accepted.provider.add_rule(NLB_GROUP, Permission(22, "10.9.0.0/16"))

    report = add_rules(request(), accepted.adapters())

    assert by_group(report)[NLB_GROUP].rules_used == 2


def test_a_rule_recorded_before_holders_were_kept_gets_them_on_redelivery(world: Any) -> None:
    # Given a rule recorded for one connection by an older version (no holder item)
    world.provider.add_group(NLB_GROUP)
    connect(world, ENDPOINT)
    add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    world.records.holding.clear()

    # When its accept is delivered again, and a second connection needs the same rule
    add_rules(request(spec=PROVIDER_ONLY), world.adapters())
    connect(world, OTHERS[0])
    add_rules(request(endpoint_id=OTHERS[0], spec=PROVIDER_ONLY), world.adapters())

    # Then both hold it, and the first one's end leaves it for the second
    (rule,) = world.provider.ingress_rules(NLB_GROUP)
    assert world.records.holders(NLB_GROUP, rule.rule_id) == {ENDPOINT, OTHERS[0]}
    end(world, ENDPOINT)
    assert world.provider.ingress_rules(NLB_GROUP) == (rule,)
