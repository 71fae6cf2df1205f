"""Warnings about a valid policy: it is accepted, but probably not what its author meant.

Warnings never fail a check or a build (`acceptor policy check` prints them and exits 0). At run
time Reconcile counts the ones about the managed set (`PolicyWarnings`, alarmed in
template.yaml). One table: a code, the check, and whether it needs the managed set.

docs/policy.md ("Warnings") explains each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from acceptor.policy.policy_set import PolicyDocument, PolicySet

# Facts read through a role in the requester's own account: the requester sets them (tags), or
# may borrow them (a VPC shared with it through AWS RAM). docs/policy.md, "Warnings".
REQUESTER_ASSERTED = frozenset({"tags", "vpcs", "vpc_tags"})


@dataclass(frozen=True)
class PolicyWarning:
    path: str
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: warning: {self.message} [{self.code}]"


Check = Callable[[PolicyDocument, "frozenset[str] | None"], Iterator[PolicyWarning]]


def _unmanaged_services(
    document: PolicyDocument, managed: frozenset[str] | None
) -> Iterator[PolicyWarning]:
    if managed is None:
        return
    for service in document.model.services:
        if service != "*" and service not in managed:
            yield PolicyWarning(
                document.path,
                None,
                "unmanaged-service",
                f"{service} is not a managed service (not tagged privatelink-acceptor:managed="
                "true, or outside ManagedServiceIds): this file decides nothing for it",
            )


def _governs_nothing(
    document: PolicyDocument, managed: frozenset[str] | None
) -> Iterator[PolicyWarning]:
    if managed is not None and not any(document.governs(service) for service in managed):
        yield PolicyWarning(
            document.path,
            None,
            "governs-nothing",
            "this file governs no managed service: every request it was meant for is "
            "left alone (ignore)",
        )


def _requester_vouches(
    document: PolicyDocument, managed: frozenset[str] | None
) -> Iterator[PolicyWarning]:
    for rule in document.model.rules:
        tested = set(rule.when.present())
        if rule.decision == "accept" and tested <= REQUESTER_ASSERTED:
            yield PolicyWarning(
                document.path,
                document.rule_lines.get(rule.name),
                "requester-asserted",
                f"rule {rule.name!r} accepts on facts the requester asserts only "
                f"({', '.join(sorted(tested))}); add accounts, organizational_units or "
                "endpoints",
            )


# code -> check; a check given `managed=None` (the managed set is unknown) skips what needs it.
CHECKS: dict[str, Check] = {
    "unmanaged-service": _unmanaged_services,
    "governs-nothing": _governs_nothing,
    "requester-asserted": _requester_vouches,
}
# The warnings that depend on the managed set: what Reconcile counts at run time.
MANAGED_SET_CODES = frozenset({"unmanaged-service", "governs-nothing"})


def policy_warnings(
    policy: PolicySet, managed: frozenset[str] | None = None
) -> list[PolicyWarning]:
    """Every warning of every file, in file order. `managed`: the managed services when known."""
    return [
        warning
        for document in policy.documents
        for check in CHECKS.values()
        for warning in check(document, managed)
    ]
