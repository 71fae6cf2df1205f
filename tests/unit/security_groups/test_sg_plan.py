from __future__ import annotations

from acceptor.security_groups.marking import CLAIM_TAG, ENDPOINT_TAG, rule_description
from acceptor.security_groups.model import ExistingRule, GroupRecord, Permission
from acceptor.security_groups.plan import plan_additions, plan_removal

ENDPOINT = "vpce-0a1b2c3d4e5f60718"
GROUP = "sg-0123456789abcdef0"
CIDR = "10.1.0.0/16"


def rule(
    rule_id: str,
    port: int = 443,
    cidr: str = CIDR,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    egress: bool = False,
    protocol: str = "tcp",
) -> ExistingRule:
    return ExistingRule(
        rule_id=rule_id,
        group_id=GROUP,
        egress=egress,
        protocol=protocol,
        from_port=port,
        to_port=port,
        cidr=cidr,
        description=description,
        tags=tags or {},
    )


def record(*rule_ids: str, claim: str = "claim-1") -> GroupRecord:
    return GroupRecord(
        endpoint_id=ENDPOINT,
        group_id=GROUP,
        side="provider",
        owner_account="111122223333",
        region="us-east-1",
        claim=claim,
        rule_ids=frozenset(rule_ids),
    )


def test_a_permission_nobody_granted_is_to_be_added() -> None:
    plan = plan_additions([Permission(443, CIDR)], [rule("sgr-1", port=80)], None)

    assert plan.to_add == (Permission(443, CIDR),)
    assert plan.ours == {}
    assert plan.others == {}


def test_an_identical_rule_of_someone_else_is_present_but_not_ours() -> None:
    others = rule("sgr-theirs", description=rule_description(ENDPOINT))

    plan = plan_additions([Permission(443, CIDR)], [others], record("sgr-mine"))

    assert plan.to_add == ()
    assert plan.others == {Permission(443, CIDR): "sgr-theirs"}
    assert plan.ours == {}


def test_a_recorded_rule_is_ours_and_nothing_is_added_again() -> None:
    plan = plan_additions([Permission(443, CIDR)], [rule("sgr-mine")], record("sgr-mine"))

    assert plan.to_add == ()
    assert plan.ours == {Permission(443, CIDR): "sgr-mine"}


def test_a_rule_with_our_claim_tag_is_adopted_after_a_crash_before_recording() -> None:
    crashed = rule("sgr-unrecorded", tags={CLAIM_TAG: "claim-1", ENDPOINT_TAG: ENDPOINT})

    plan = plan_additions([Permission(443, CIDR)], [crashed], record())

    assert plan.ours == {Permission(443, CIDR): "sgr-unrecorded"}


def test_a_wider_or_egress_or_udp_rule_does_not_count_as_present() -> None:
    wider = ExistingRule("sgr-w", GROUP, False, "tcp", 0, 65535, CIDR)
    existing = [wider, rule("sgr-e", egress=True), rule("sgr-u", protocol="udp")]

    plan = plan_additions([Permission(443, CIDR)], existing, None)

    assert plan.to_add == (Permission(443, CIDR),)


def test_removal_revokes_recorded_and_claimed_rules_only() -> None:
    existing = [
        rule("sgr-mine"),
        rule("sgr-claimed", port=8443, tags={CLAIM_TAG: "claim-1"}),
        rule("sgr-copy", port=9443, description=rule_description(ENDPOINT)),
        rule("sgr-tagged-copy", port=9444, tags={ENDPOINT_TAG: ENDPOINT, CLAIM_TAG: "forged"}),
        rule("sgr-unrelated", port=22),
    ]

    plan = plan_removal(record("sgr-mine", "sgr-gone"), existing)

    assert plan.revoke == ("sgr-claimed", "sgr-mine")
    assert plan.already_gone == ("sgr-gone",)
    assert plan.lookalikes == ("sgr-copy", "sgr-tagged-copy")


def test_removal_with_nothing_left_in_the_group_has_nothing_to_revoke() -> None:
    plan = plan_removal(record("sgr-mine"), [])

    assert plan.revoke == ()
    assert plan.already_gone == ("sgr-mine",)
