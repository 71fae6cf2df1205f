"""Which CIDRs may become ingress sources: the consumer VPC's, and nothing wider, ever.

A VPC's IPv4 blocks are /16 to /28 and its IPv6 blocks /44 to /64 (AWS VPC quotas), so a source
wider than that cannot be a VPC CIDR: it is refused and reported, never opened. That covers
`0.0.0.0/0` and `::/0` and every near-miss such as `0.0.0.0/1`.

Two more limits come from the policy's `security_groups` (docs/security-groups.md, "Which
CIDRs"): an IPv4 block outside the private ranges below is refused unless `allow_public_cidrs`
is set (a VPC may use a public range it does not own, and an internet-facing NLB would then
admit that range's real owner), and at most `max_cidrs` blocks are opened per connection and
group (one consumer cannot fill a group's rule quota for everyone else). IPv6 blocks are not
checked for privacy: a VPC's IPv6 block is Amazon's allocation to that account or its own
BYOIP range, so it is the consumer's own address space.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from acceptor.security_groups.model import Permission

# IP version -> the widest prefix a VPC CIDR block can have.
WIDEST_PREFIX: dict[int, int] = {4: 16, 6: 44}
# IPv4 ranges that are nobody's on the internet: RFC 1918, and RFC 6598's shared address space
# (AWS lets a VPC use 100.64.0.0/10 as a secondary block).
PRIVATE_IPV4 = tuple(
    ipaddress.IPv4Network(block)
    for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
DEFAULT_MAX_CIDRS = 5


@dataclass(frozen=True)
class Refusal:
    cidr: str
    reason: str


@dataclass(frozen=True)
class Sources:
    cidrs: tuple[str, ...]
    """Normalised, de-duplicated, IPv4 first, each checked against `WIDEST_PREFIX`."""
    refused: tuple[Refusal, ...] = ()


def consumer_sources(
    cidrs: Iterable[str],
    *,
    max_cidrs: int = DEFAULT_MAX_CIDRS,
    allow_public: bool = False,
) -> Sources:
    """The blocks that may be opened, in a stable order (IPv4 first, then by address), the
    first `max_cidrs` of them; every other block is refused with its reason."""
    accepted: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    refused: list[Refusal] = []
    for raw in cidrs:
        network, refusal = _check(raw, allow_public=allow_public)
        if refusal is not None:
            refused.append(refusal)
        elif network is not None:
            accepted.add(network)
    ordered = sorted(accepted, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    refused.extend(
        Refusal(str(n), f"over the cap of {max_cidrs} CIDR blocks per connection and group")
        for n in ordered[max_cidrs:]
    )
    return Sources(cidrs=tuple(str(n) for n in ordered[:max_cidrs]), refused=tuple(refused))


def _check(
    raw: str, *, allow_public: bool
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
    if (
        isinstance(network, ipaddress.IPv4Network)
        and not allow_public
        and not any(network.subnet_of(block) for block in PRIVATE_IPV4)
    ):
        return None, Refusal(
            raw, "a public IPv4 range; added only where the policy sets allow_public_cidrs"
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
