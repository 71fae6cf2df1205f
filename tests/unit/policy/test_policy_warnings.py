"""Warnings about valid policies: files outside the managed set, files governing nothing, and
accept rules the requester could satisfy by itself."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SERVICE, build_policy

from acceptor.policy.warnings import policy_warnings

OTHER = "vpce-svc-0b2c3d4e5f6a78901"


def policy(services: list[str], *rules: dict[str, Any]) -> Any:
    return build_policy(("p.yaml", {"version": 1, "services": services, "rules": list(rules)}))


def codes(warnings: list[Any]) -> list[str]:
    return [w.code for w in warnings]


def accept(**when: Any) -> dict[str, Any]:
    return {"name": "r", "decision": "accept", "when": when}


def test_a_file_naming_an_unmanaged_service_warns_when_the_managed_set_is_known() -> None:
    warnings = policy_warnings(policy([SERVICE, OTHER]), frozenset({SERVICE}))

    assert codes(warnings) == ["unmanaged-service"]
    assert OTHER in warnings[0].message
    assert str(warnings[0]).startswith("p.yaml: warning: ")


def test_a_file_governing_no_managed_service_warns() -> None:
    assert codes(policy_warnings(policy([OTHER]), frozenset({SERVICE}))) == [
        "unmanaged-service",
        "governs-nothing",
    ]


def test_star_governs_nothing_when_no_service_is_managed() -> None:
    assert codes(policy_warnings(policy(["*"]), frozenset())) == ["governs-nothing"]


def test_star_with_managed_services_is_fine() -> None:
    assert policy_warnings(policy(["*"]), frozenset({SERVICE})) == []


def test_without_the_managed_set_the_managed_set_warnings_are_skipped() -> None:
    assert policy_warnings(policy([OTHER])) == []


@pytest.mark.parametrize(
    "when",
    [
        {"tags": {"env": "prod"}},
        {"vpcs": ["vpc-0a1b2c3d4e5f67890"]},
        {"tags": {"env": "prod"}, "vpc_tags": {"tier": "private"}},
    ],
)
def test_an_accept_rule_on_requester_asserted_facts_only_warns_with_its_line(
    when: dict[str, Any],
) -> None:
    (warning,) = policy_warnings(policy([SERVICE], accept(**when)))

    assert warning.code == "requester-asserted"
    assert warning.line == 10
    assert str(warning).startswith("p.yaml:10: warning: rule 'r' accepts on facts")


@pytest.mark.parametrize(
    "when",
    [
        {"accounts": ["111122223333"], "tags": {"env": "prod"}},
        {"organizational_units": ["ou-ab12-11111111"], "vpcs": ["vpc-0a1b2c3d4e5f67890"]},
        {"endpoints": ["vpce-0a1b2c3d4e5f60718"]},
    ],
)
def test_an_accept_rule_with_a_fact_the_provider_sees_does_not_warn(when: dict[str, Any]) -> None:
    assert policy_warnings(policy([SERVICE], accept(**when))) == []


def test_a_reject_rule_on_tags_only_does_not_warn() -> None:
    rule = {"name": "r", "decision": "reject", "when": {"tags": {"env": "sandbox"}}}

    assert policy_warnings(policy([SERVICE], rule)) == []
