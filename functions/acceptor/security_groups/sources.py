"""Which CIDRs may become ingress sources: the consumer VPC's, and nothing wider, ever.

A VPC's IPv4 blocks are /16 to /28 and its IPv6 blocks /44 to /64 (AWS VPC quotas), so a source
wider than that cannot be a VPC CIDR: it is refused and reported, never opened. That covers
`0.0.0.0/0` and `::/0` and every near-miss such as `0.0.0.0/1`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from acceptor.security_groups.model import Permission

# IP version -> the widest prefix a VPC CIDR block can have.
WIDEST_PREFIX: dict[int, int] = {4: 16, 6: 44}


@dataclass(frozen=True)
class Refusal:
    cidr: str
    reason: str


@dataclass(frozen=True)
class Sources:
    cidrs: tuple[str, ...]
    """Normalised, de-duplicated, IPv4 first, each checked against `WIDEST_PREFIX`."""
    refused: tuple[Refusal, ...] = ()


def consumer_sources(cidrs: Iterable[str]) -> Sources:
    accepted: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    refused: list[Refusal] = []
    for raw in cidrs:
        network, refusal = _check(raw)
        if refusal is not None:
            refused.append(refusal)
        elif network is not None:
            accepted.add(network)
    ordered = sorted(accepted, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    return Sources(cidrs=tuple(str(n) for n in ordered), refused=tuple(refused))


def _check(
    raw: str,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network | None, Refusal | None]:
    try:
        # strict: a block with host bits set is not what a VPC reports; refuse, don't round it.
        network = ipaddress.ip_network(raw.strip(), strict=True)
    except ValueError:
        return None, Refusal(raw, "not a CIDR block")
    widest = WIDEST_PREFIX[network.version]
    if network.prefixlen == 0:
        return None, Refusal(raw, "opens the port to every address; never added")
    if network.prefixlen < widest:
        return None, Refusal(
            raw, f"wider than any VPC CIDR block (/{widest} for IPv{network.version}); never added"
        )
    return network, None


def normalised(cidr: str) -> str:
    """The canonical text of a CIDR (`2400:6500:0031::/56` -> `2400:6500:31::/56`), so that a
    rule is compared by meaning, not spelling; text that is not a CIDR is returned as is."""
    try:
        return str(ipaddress.ip_network(cidr.strip(), strict=False))
    except ValueError:
        return cidr


def permissions(ports: Iterable[int], sources: Sources) -> tuple[Permission, ...]:
    """Every (port, CIDR) pair: one rule each, so that each can be found and removed alone."""
    return tuple(sorted({Permission(port, cidr) for port in ports for cidr in sources.cidrs}))
