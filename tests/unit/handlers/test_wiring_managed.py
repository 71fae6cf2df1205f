"""The managed set Decide screens with: scanned from tags, cached a short while per execution
environment, and scanned again at once when a batch names a service the cache lacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from acceptor.aws.errors import AccessDenied
from acceptor.flows import wiring
from acceptor.managed import MANAGED_TAG, EndpointService
from acceptor.settings import DecideSettings, NotifySettings

A, B = "vpce-svc-0a1b2c3d4e5f67890", "vpce-svc-0b2c3d4e5f6a78901"


class Clients:
    region = "us-east-1"


class Services:
    def __init__(self) -> None:
        self.tagged: set[str] = {A}
        self.scans = 0

    def services(self) -> list[EndpointService]:
        self.scans += 1
        return [EndpointService(s, {MANAGED_TAG: "true"}) for s in sorted(self.tagged)] + [
            EndpointService("vpce-svc-0c3d4e5f6a7b89012")
        ]


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    fake = Services()
    monkeypatch.setattr(wiring, "endpoint_services", lambda clients: fake)
    wiring.reset_managed_cache()
    yield fake
    wiring.reset_managed_cache()


def managed(clients: Any, now: float, requested: tuple[str, ...] = ()) -> frozenset[str]:
    return wiring.managed_services(DecideSettings(), cast(Any, clients), requested, lambda: now)


def test_the_scan_is_cached_within_its_ttl(services: Services) -> None:
    clients = Clients()

    assert managed(clients, 0.0) == {A}
    assert managed(clients, wiring.MANAGED_TTL_SECONDS - 1) == {A}
    assert services.scans == 1


def test_a_service_tagged_since_the_scan_is_seen_when_a_batch_names_it(
    services: Services,
) -> None:
    clients = Clients()
    managed(clients, 0.0)
    services.tagged.add(B)

    assert managed(clients, 1.0, requested=(B,)) == {A, B}
    assert services.scans == 2


def test_an_untagged_service_leaves_the_set_once_the_ttl_is_over(services: Services) -> None:
    clients = Clients()
    managed(clients, 0.0)
    services.tagged.clear()

    assert managed(clients, wiring.MANAGED_TTL_SECONDS + 1) == frozenset()


def test_a_filter_narrows_the_tagged_set(services: Services) -> None:
    services.tagged.add(B)
    settings = DecideSettings(MANAGED_SERVICE_IDS=B)

    assert wiring.managed_services(settings, cast(Any, Clients())) == {B}


def test_override_alerts_ask_the_tag_scan_whether_a_service_is_managed(
    services: Services,
) -> None:
    is_managed = wiring.managed_check(NotifySettings(), cast(Any, Clients()))

    assert is_managed(A) is True
    assert is_managed("vpce-svc-0c3d4e5f6a7b89012") is False


def test_an_unreadable_scan_counts_the_service_as_managed_so_the_call_is_alerted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Unreadable:
        def services(self) -> list[EndpointService]:
            raise AccessDenied(
                "DescribeVpcEndpointServiceConfigurations", "UnauthorizedOperation", "denied"
            )

    monkeypatch.setattr(wiring, "endpoint_services", lambda clients: Unreadable())
    wiring.reset_managed_cache()

    is_managed = wiring.managed_check(NotifySettings(), cast(Any, Clients()))

    assert is_managed(A) is True
