"""The Reconcile plan: origins of the Requested events a sweep puts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acceptor.decision.connection import Connection
from acceptor.decision.sweep import (
    pending_requests,
    revocation_requests,
    services_to_revoke,
    sweep_origin,
)
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

pytestmark = pytest.mark.disable_socket

A, B = "vpce-svc-0a1b2c3d4e5f67890", "vpce-svc-0b2c3d4e5f6a78901"
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def policy(*files: dict[str, Any]) -> PolicySet:
    return PolicySet.from_documents(
        PolicyDocument(f"p{i}.yaml", PolicyFile.model_validate({"version": 1, **f}))
        for i, f in enumerate(files)
    )


def pending(service: str, hours_old: float, endpoint: str = "vpce-0a1b2c3d") -> Connection:
    created = NOW - timedelta(hours=hours_old)
    return Connection(service, endpoint, "111122223333", "us-east-1", "pendingAcceptance", created)


def test_pending_connection_within_the_hold_is_a_sweep_request() -> None:
    chosen = policy({"services": ["*"], "hold": {"expires_after": "72h"}})

    assert sweep_origin(pending(A, 1), chosen, NOW) == "sweep"


def test_pending_connection_past_the_hold_is_a_hold_expired_request() -> None:
    chosen = policy({"services": ["*"], "hold": {"expires_after": "72h"}})

    assert sweep_origin(pending(A, 72), chosen, NOW) == "hold-expired"


def test_without_expires_after_a_hold_never_expires() -> None:
    assert sweep_origin(pending(A, 10_000), policy({"services": ["*"]}), NOW) == "sweep"


def test_hold_expiry_is_per_service() -> None:
    chosen = policy({"services": [A], "hold": {"expires_after": "1h"}}, {"services": [B]})

    requests = pending_requests([pending(A, 2), pending(B, 2)], chosen, NOW, "sweep-1")

    assert [(r.service_id, r.origin) for r in requests] == [(A, "hold-expired"), (B, "sweep")]
    assert {r.correlation_id for r in requests} == {"sweep-1"}


def test_only_services_governed_by_a_revoking_file_are_checked() -> None:
    chosen = policy({"services": [A], "revoke": True}, {"services": [B]})

    assert services_to_revoke(chosen, [A, B]) == [A]
    assert services_to_revoke(policy({"services": ["*"]}), [A, B]) == []


def test_revocation_requests_carry_the_available_state() -> None:
    available = Connection(A, "vpce-0a1b2c3d", "111122223333", "us-east-1", "available", NOW)

    (request,) = revocation_requests([available], "sweep-1")

    assert (request.origin, request.state) == ("revocation", "available")
