"""Settings per function: each model reads its own variables and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acceptor.settings import (
    BY_FUNCTION,
    DecideSettings,
    IngestSettings,
    NotifySettings,
    SecurityGroupsSettings,
)

ENVIRONMENT = {
    "MANAGED_SERVICE_IDS": "vpce-svc-0a1b2c3d4e5f60718, vpce-svc-0b2c3d4e5f6a78901,",
    "DRY_RUN": "TRUE",
    "POLICY_PATH": "/opt/policies",
    "EVENT_BUS_NAME": "bus",
    "DECISION_TABLE": "decisions",
    "DECISION_TTL_DAYS": "30",
    "CONSUMER_ROLE_NAME": "privatelink-acceptor-consumer",
    "CONSUMER_ROLE_EXTERNAL_ID": "",
    "ORGANIZATIONS_ACCESS": "false",
    "ORGANIZATIONS_ROLE_ARN": "",
    "AWS_REGION": "eu-west-1",
}


def test_decide_reads_its_variables_splitting_lists_and_parsing_flags() -> None:
    settings = DecideSettings.from_environ(ENVIRONMENT)

    assert settings.managed_services == (
        "vpce-svc-0a1b2c3d4e5f60718",
        "vpce-svc-0b2c3d4e5f6a78901",
    )
    assert settings.dry_run is True
    assert settings.decision_ttl_days == 30
    assert settings.consumer_external_id is None
    assert settings.organizations_role_arn is None
    assert settings.idempotency_table is None


def test_a_function_ignores_the_variables_of_the_others() -> None:
    settings = IngestSettings.from_environ(ENVIRONMENT)

    assert settings.model_dump() == {
        "managed_services": ("vpce-svc-0a1b2c3d4e5f60718", "vpce-svc-0b2c3d4e5f6a78901"),
        "event_bus_name": "bus",
    }


@pytest.mark.parametrize("model", sorted(BY_FUNCTION.values(), key=lambda m: m.__name__))
def test_every_model_reads_an_empty_environment_as_its_defaults(model: type) -> None:
    assert model.from_environ({}) == model()


def test_security_groups_write_role_defaults_to_the_read_roles_write_twin() -> None:
    derived = SecurityGroupsSettings.from_environ({"CONSUMER_ROLE_NAME": "reader"})
    named = SecurityGroupsSettings.from_environ(
        {"CONSUMER_ROLE_NAME": "reader", "CONSUMER_WRITE_ROLE_NAME": "writer"}
    )

    assert derived.consumer_write_role == "reader-write"
    assert named.consumer_write_role == "writer"
    assert SecurityGroupsSettings().consumer_write_role is None


def test_settings_are_frozen_and_hashable_so_notify_can_cache_its_dependencies() -> None:
    settings = NotifySettings.from_environ({"ACCEPTOR_ROLE_ARNS": "arn:a,arn:b"})

    assert hash(settings) == hash(
        NotifySettings.from_environ({"ACCEPTOR_ROLE_ARNS": "arn:a,arn:b"})
    )
    with pytest.raises(ValidationError):
        settings.secret_cache_seconds = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model", "variable", "value"),
    [
        (DecideSettings, "DECISION_TTL_DAYS", "0"),
        (DecideSettings, "DRY_RUN", "maybe"),
        (NotifySettings, "WEBHOOK_TIMEOUT_SECONDS", "61"),
    ],
)
def test_an_invalid_value_fails_the_invocation(model: type, variable: str, value: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        model.from_environ({variable: value})
