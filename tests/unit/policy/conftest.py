"""Builders for policy sets and facts, and no network for any test of the policy engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

from acceptor.policy.facts import Facts
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

SERVICE = "vpce-svc-0123456789abcdef0"

PolicyBuilder = Callable[..., PolicySet]
FactsBuilder = Callable[..., Facts]


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket()
    yield
    enable_socket()


def build_policy(*files: tuple[str, Mapping[str, Any]]) -> PolicySet:
    """A policy set from (path, file content) pairs, validated by the real model. Rule lines
    are made up (10, 15, 20...) so that reasons name `file:line` as for loaded files."""
    return PolicySet.from_documents(
        PolicyDocument(
            path=path,
            model=PolicyFile.model_validate(content),
            rule_lines={
                rule["name"]: 10 + 5 * number
                for number, rule in enumerate(content.get("rules", []))
            },
        )
        for path, content in files
    )


def build_facts(**known: Any) -> Facts:
    """Facts for SERVICE with every fact known and unremarkable unless overridden; pass a fact
    as None to make it unknown (with a reason from `reasons`, default: no consumer role)."""
    reasons: dict[str, str] = known.pop("reasons", {})
    values: dict[str, Any] = {
        "service_id": SERVICE,
        "endpoint_id": "vpce-0a1b2c3d4e5f60718",
        "account": "999988887777",
        "region": "eu-west-1",
        "vpc_id": "vpc-0abc1234def567890",
        "tags": {},
        "vpc_tags": {},
        "ou_path": ("r-ab12",),
    }
    values.update(known)
    for name, value in values.items():
        if value is None and name not in reasons:
            reasons[name] = "no consumer role configured"
    return Facts(**values, unknown_reasons=reasons)


@pytest.fixture(scope="session")
def make_policy() -> PolicyBuilder:
    return build_policy


@pytest.fixture(scope="session")
def make_facts() -> FactsBuilder:
    return build_facts
