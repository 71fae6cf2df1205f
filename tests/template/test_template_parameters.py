"""Parameters of template.yaml and their defaults: a first deploy changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sam_template import ROOT, load, stack_resolver

from acceptor.policy.loader import load_policy

pytestmark = pytest.mark.disable_socket

SERVICE = "vpce-svc-0123456789abcdef0"
OPTIONAL = (
    "ConsumerRoleName",
    "ExternalId",
    "OrganizationsRoleArn",
    "NotificationEmail",
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def test_dry_run_defaults_to_true_so_a_first_deploy_never_acts(template: dict[str, Any]) -> None:
    dry_run = template["Parameters"]["DryRun"]

    assert dry_run["Default"] == "true"
    assert sorted(dry_run["AllowedValues"]) == ["false", "true"]


def test_managed_service_ids_is_an_optional_filter_whose_pattern_admits_empty_and_ids(
    template: dict[str, Any],
) -> None:
    services = template["Parameters"]["ManagedServiceIds"]
    pattern = re.compile(services["AllowedPattern"])

    assert services["Type"] == "CommaDelimitedList"
    assert services["Default"] == ""
    assert pattern.fullmatch("")
    assert pattern.fullmatch("vpce-svc-0123456789abcdef0")
    assert not pattern.fullmatch("svc-0123456789abcdef0")


@pytest.mark.parametrize("name", OPTIONAL)
def test_optional_parameter_defaults_to_empty_which_means_off(
    template: dict[str, Any], name: str
) -> None:
    assert template["Parameters"][name]["Default"] == ""


def test_organizations_access_defaults_to_none(template: dict[str, Any]) -> None:
    assert template["Parameters"]["OrganizationsAccess"]["Default"] == "none"


def test_every_parameter_is_described_for_the_guided_deploy(template: dict[str, Any]) -> None:
    undescribed = [n for n, spec in template["Parameters"].items() if not spec.get("Description")]

    assert undescribed == []


def test_external_id_is_not_echoed(template: dict[str, Any]) -> None:
    assert template["Parameters"]["ExternalId"]["NoEcho"] is True


def test_defaults_switch_every_optional_feature_off(template: dict[str, Any]) -> None:
    stack = stack_resolver(template, {"ManagedServiceIds": SERVICE})

    switched_on = [
        name
        for name in (
            "HasConsumerRole",
            "OrganizationsOn",
            "OrganizationsDirect",
            "OrganizationsViaRole",
            "HasNotificationEmail",
        )
        if stack.condition(name)
    ]
    assert switched_on == []


def test_defaults_give_decide_no_consumer_role_and_no_organizations(
    template: dict[str, Any],
) -> None:
    stack = stack_resolver(template, {"ManagedServiceIds": SERVICE})

    variables = stack.resolve(template["Resources"]["DecideFunction"]["Properties"]["Environment"])
    assert variables["Variables"]["CONSUMER_ROLE_NAME"] == ""
    assert variables["Variables"]["ORGANIZATIONS_ACCESS"] == "false"
    assert variables["Variables"]["ORGANIZATIONS_ROLE_ARN"] == ""


def test_organizations_through_a_role_passes_the_role_to_decide(
    template: dict[str, Any],
) -> None:
    role = "arn:aws:iam::111122223333:role/ou-reader"
    stack = stack_resolver(
        template,
        {"ManagedServiceIds": SERVICE, "OrganizationsAccess": "role", "OrganizationsRoleArn": role},
    )

    variables = stack.resolve(template["Resources"]["DecideFunction"]["Properties"]["Environment"])
    assert variables["Variables"]["ORGANIZATIONS_ACCESS"] == "true"
    assert variables["Variables"]["ORGANIZATIONS_ROLE_ARN"] == role


def test_the_starter_policy_holds_everything_so_nothing_changes_until_a_rule_is_written() -> None:
    """Guards the policy the project ships (policies/acceptor.yaml). Once you write your own
    rules there, this test has done its job: delete it."""
    policy = load_policy([ROOT / "policies" / "acceptor.yaml"])

    (document,) = policy.documents
    starter = document.model
    assert starter.default == "hold"
    assert starter.hold.expires_after is None, "an expiring hold would reject pending requests"
    assert starter.revoke is False
    assert [rule.name for rule in starter.rules if rule.decision != "hold"] == []


def test_every_parameter_of_the_template_is_in_the_readme_parameter_table(
    template: dict[str, Any],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\w+)` \|", readme, flags=re.MULTILINE))

    assert set(template["Parameters"]) <= documented
