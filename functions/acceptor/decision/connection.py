"""A connection to one of our endpoint services, as DescribeVpcEndpointConnections shows it
(read from AWS's shape by `aws/ec2.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
