"""Assembling the policy facts of one request from what each source could tell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from acceptor.decision.connection import Connection
from acceptor.policy.facts import Facts

NO_CONSUMER_ROLE = "no consumer role configured"
NO_ORGANIZATIONS_ACCESS = "Organizations access is off"


@dataclass(frozen=True)
class ConsumerFacts:
    """What the consumer role shows of one endpoint; None = unknown, and `reason` says why."""

    vpc_id: str | None = None
    tags: Mapping[str, str] | None = None
    vpc_tags: Mapping[str, str] | None = None
    vpc_cidrs: tuple[str, ...] | None = None
    reason: str = ""
    """Why the unknown facts are unknown (empty when everything is known)."""

    @classmethod
    def unknown(cls, reason: str) -> ConsumerFacts:
        return cls(reason=reason)


@dataclass(frozen=True)
class OrgFacts:
    ou_path: tuple[str, ...] | None = None
    reason: str = ""

    @classmethod
    def unknown(cls, reason: str) -> OrgFacts:
        return cls(reason=reason)


@dataclass(frozen=True)
class RequestFacts:
    facts: Facts
    vpc_cidrs: tuple[str, ...] | None = None


def facts_for(connection: Connection, consumer: ConsumerFacts, org: OrgFacts) -> RequestFacts:
    """Account, region and endpoint ID are always known: the provider sees them."""
    reasons: dict[str, str] = {}
    for name in ("vpc_id", "tags", "vpc_tags"):
        if getattr(consumer, name) is None:
            reasons[name] = consumer.reason or "not readable through the consumer role"
    if org.ou_path is None:
        reasons["ou_path"] = org.reason or "not readable through Organizations"
    facts = Facts(
        service_id=connection.service_id,
        endpoint_id=connection.endpoint_id,
        account=connection.account,
        region=connection.region,
        vpc_id=consumer.vpc_id,
        tags=consumer.tags,
        vpc_tags=consumer.vpc_tags,
        ou_path=org.ou_path,
        unknown_reasons=reasons,
    )
    return RequestFacts(facts=facts, vpc_cidrs=consumer.vpc_cidrs)
