"""A connection to one of our endpoint services, as DescribeVpcEndpointConnections shows it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PENDING = "pendingAcceptance"
AVAILABLE = "available"


@dataclass(frozen=True)
class Connection:
    service_id: str
    endpoint_id: str
    account: str
    region: str
    state: str
    created_at: datetime

    @classmethod
    def from_describe(cls, item: Mapping[str, Any], home_region: str) -> Connection:
        """One `VpcEndpointConnections` item; `VpcEndpointRegion` is absent for same-region."""
        created = item["CreationTimestamp"]
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return cls(
            service_id=item["ServiceId"],
            endpoint_id=item["VpcEndpointId"],
            account=item["VpcEndpointOwner"],
            region=item.get("VpcEndpointRegion") or home_region,
            state=item["VpcEndpointState"],
            created_at=created.astimezone(UTC),
        )
