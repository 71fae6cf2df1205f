"""What Decide's flow needs from the outside, as protocols: the adapters of `acceptor.aws`
implement them, and so do the shared fakes of the tests (`tests/fakes/decide.py`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from acceptor.approval.model import ApprovalRecord
from acceptor.aws.bus import FailedEntry
from acceptor.contract import BusEvent
from acceptor.decision.actions import Act, ItemFailure
from acceptor.decision.connection import Connection
from acceptor.decision.gather import ConsumerFacts, OrgFacts
from acceptor.decision.records import RevocationNotice


class Connections(Protocol):
    """The provider's EC2: re-read connections, accept or reject them (`aws/ec2.py`)."""

    def connections(
        self, service_id: str | None, endpoint_ids: Sequence[str]
    ) -> dict[str, Connection]: ...

    def service_connections(self, service_id: str) -> list[Connection]: ...

    def act(
        self, act: Act, service_id: str, endpoint_ids: Sequence[str]
    ) -> dict[str, ItemFailure]: ...


class Consumers(Protocol):
    """What the consumer role shows of endpoints (`aws/consumer.py`)."""

    def facts(
        self, account: str, region: str, endpoint_ids: Sequence[str]
    ) -> dict[str, ConsumerFacts]: ...


class Organizations(Protocol):
    """An account's OU path (`aws/organizations.py`)."""

    def ou_path(self, account: str) -> OrgFacts: ...


class Log(Protocol):
    """The decision log (`aws/decision_log.py`)."""

    def write(self, items: Sequence[Mapping[str, Any]]) -> None: ...

    def notice(self, endpoint_id: str) -> RevocationNotice | None: ...

    def notice_item(self, endpoint_id: str, notice: RevocationNotice) -> dict[str, Any]: ...

    def begin_intent(self, item: Mapping[str, Any], now: datetime) -> None: ...

    def open_intent(self, endpoint_id: str) -> dict[str, Any] | None: ...

    def close_intent(self, endpoint_id: str, claim: str) -> None: ...


class Approvals(Protocol):
    """The approvals table (`aws/approvals.py`), read for origin `approval`."""

    def get(self, endpoint_id: str) -> ApprovalRecord | None: ...


class Delivery(Protocol):
    """The bus, for Decided events (`aws/bus.py`)."""

    def try_put(self, events: Sequence[BusEvent]) -> list[FailedEntry]: ...
