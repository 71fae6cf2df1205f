"""How a rule added by the acceptor names its endpoint, so that people and tools can find it.

The format is fixed and documented (docs/security-groups.md): changing it orphans the rules of
every connection accepted before the change, so treat it as part of the public contract.
Marking is for people and for finding look-alikes; ownership is decided by recorded rule IDs and
the claim tag, never by the description alone (anyone can copy a description).
"""

from __future__ import annotations

from collections.abc import Mapping

DESCRIPTION_PREFIX = "privatelink-acceptor"
ENDPOINT_TAG = "privatelink-acceptor:endpoint"
"""Tag on every rule we add: the endpoint ID it was added for."""
CLAIM_TAG = "privatelink-acceptor:claim"
"""Tag on every rule we add: a random token kept with our record of that endpoint and group, so a
rule created just before a crash (authorized, not yet recorded) is still recognised as ours."""
MANAGED_TAG = "privatelink-acceptor:managed"
"""Tag a provider puts on a security group to let the acceptor write to it (IAM condition)."""


def rule_description(endpoint_id: str) -> str:
    """`privatelink-acceptor vpce-0123456789abcdef0`: the description of every rule we add."""
    return f"{DESCRIPTION_PREFIX} {endpoint_id}"


def rule_tags(endpoint_id: str, claim: str) -> dict[str, str]:
    return {ENDPOINT_TAG: endpoint_id, CLAIM_TAG: claim}


def looks_like_ours(description: str | None, tags: Mapping[str, str], endpoint_id: str) -> bool:
    """A rule marked for this endpoint, by description or tag: ours, or a copy of ours."""
    return description == rule_description(endpoint_id) or tags.get(ENDPOINT_TAG) == endpoint_id
