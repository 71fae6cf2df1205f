from __future__ import annotations

import pytest

from acceptor.security_groups.model import Permission
from acceptor.security_groups.sources import consumer_sources, permissions


def test_vpc_cidrs_are_kept_normalised_and_ipv4_first() -> None:
    sources = consumer_sources(["2600:1F18:ABCD:1200::/56", "10.1.0.0/16", "10.1.0.0/16"])

    assert sources.cidrs == ("10.1.0.0/16", "2600:1f18:abcd:1200::/56")
    assert sources.refused == ()


@pytest.mark.parametrize(
    "cidr",
    ["0.0.0.0/0", "::/0", "0.0.0.0/1", "10.0.0.0/8", "2600::/16", "10.1.0.1/16", "nonsense", ""],
)
def test_a_source_wider_than_any_vpc_or_malformed_is_refused(cidr: str) -> None:
    sources = consumer_sources([cidr, "10.1.0.0/16"])

    assert sources.cidrs == ("10.1.0.0/16",)
    assert [refusal.cidr for refusal in sources.refused] == [cidr]


def test_everyone_is_refused_with_a_reason_that_says_so() -> None:
    (refusal,) = consumer_sources(["0.0.0.0/0"]).refused

    assert "every address" in refusal.reason


def test_permissions_are_one_per_port_and_cidr() -> None:
    sources = consumer_sources(["10.1.0.0/16", "2600:1f18:abcd:1200::/56"])

    assert permissions([443, 8443, 443], sources) == (
        Permission(443, "10.1.0.0/16"),
        Permission(443, "2600:1f18:abcd:1200::/56"),
        Permission(8443, "10.1.0.0/16"),
        Permission(8443, "2600:1f18:abcd:1200::/56"),
    )


def test_no_known_cidrs_means_no_permissions() -> None:
    assert permissions([443], consumer_sources([])) == ()


def test_a_permission_outside_the_port_range_cannot_exist() -> None:
    with pytest.raises(ValueError, match="outside"):
        Permission(0, "10.1.0.0/16")
