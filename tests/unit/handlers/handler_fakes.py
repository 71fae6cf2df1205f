"""Fakes of the adapters (EC2, bus, consumer facts, decision log) for flow tests: they
implement the ports of `acceptor.flows.decide.ports`, so flows take them as they are."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from acceptor.aws.bus import FailedEntry
from acceptor.aws.decision_log import IntentConflict
from acceptor.aws.errors import AwsError
from acceptor.contract import BusEvent
from acceptor.decision.actions import Act, ItemFailure
from acceptor.decision.connection import Connection
from acceptor.decision.gather import ConsumerFacts
from acceptor.decision.records import RevocationNotice
from acceptor.flows.decide import ports

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def write_policy(folder: Path, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acceptor.yaml").write_text(text)
    return str(folder)


class FakeEc2:
    """Connections in memory; accept/reject move them, or fail as told."""

    region = "us-east-1"

    def __init__(self, connections: Sequence[Connection] = ()) -> None:
        self.connections_by_id = {c.endpoint_id: c for c in connections}
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []
        self.item_failures: dict[str, list[ItemFailure]] = {}
        """Failures to report for an endpoint, one per call, in order."""
        self.call_error: AwsError | None = None
        self.lost_response: AwsError | None = None
        """Raised after an accept/reject call has been applied (its response lost)."""
        self.describe_error: AwsError | None = None
        self.list_error: AwsError | None = None
        """Raised by `service_connections` (the listing Decide counts limits from)."""

    def connections(
        self, service_id: str | None, endpoint_ids: Sequence[str]
    ) -> dict[str, Connection]:
        self.calls.append(("describe", service_id or "", tuple(endpoint_ids)))
        if self.describe_error is not None:
            raise self.describe_error
        return {
            e: self.connections_by_id[e]
            for e in endpoint_ids
            if e in self.connections_by_id
            and (service_id is None or self.connections_by_id[e].service_id == service_id)
        }

    def find(
        self, endpoint_ids: Sequence[str], service_ids: Collection[str] | None
    ) -> dict[str, Any]:
        self.calls.append(("find", ",".join(sorted(service_ids or ["*"])), tuple(endpoint_ids)))
        if self.describe_error is not None:
            raise self.describe_error
        return {
            e: self.connections_by_id[e]
            for e in endpoint_ids
            if e in self.connections_by_id
            and (service_ids is None or self.connections_by_id[e].service_id in service_ids)
        }

    def service_connections(self, service_id: str) -> list[Connection]:
        self.calls.append(("list-service", service_id, ()))
        if self.list_error is not None:
            raise self.list_error
        return [c for c in self.connections_by_id.values() if c.service_id == service_id]

    def list_connections(self, service_id: str, state: str) -> Iterator[Connection]:
        self.calls.append(("list", service_id, (state,)))
        for connection in self.connections_by_id.values():
            if connection.service_id == service_id and connection.state == state:
                yield connection

    def owned_services(self) -> list[str]:
        return sorted({c.service_id for c in self.connections_by_id.values()})

    def act(self, act: Act, service_id: str, endpoint_ids: Sequence[str]) -> dict[str, ItemFailure]:
        self.calls.append((act, service_id, tuple(endpoint_ids)))
        if self.call_error is not None:
            raise self.call_error
        failures: dict[str, ItemFailure] = {}
        for endpoint_id in endpoint_ids:
            queued = self.item_failures.get(endpoint_id)
            if queued:
                failures[endpoint_id] = queued.pop(0)
                continue
            current = self.connections_by_id[endpoint_id]
            target = "available" if act == "accept" else "rejected"
            self.connections_by_id[endpoint_id] = Connection(
                current.service_id,
                current.endpoint_id,
                current.account,
                current.region,
                target,
                current.created_at,
            )
        if self.lost_response is not None:
            raise self.lost_response
        return failures

    def actions(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [call for call in self.calls if call[0] in ("accept", "reject")]


class FakeBus:
    def __init__(self) -> None:
        self.events: list[BusEvent] = []
        self.fail_next: int = 0
        """Report this many of the next events as failed (ThrottlingException)."""

    def try_put(self, events: Sequence[BusEvent]) -> list[FailedEntry]:
        failed = [
            FailedEntry(i, "ThrottlingException", "slow down")
            for i in range(min(self.fail_next, len(events)))
        ]
        self.fail_next -= len(failed)
        self.events.extend(e for i, e in enumerate(events) if i >= len(failed))
        return failed

    def put(self, events: Sequence[BusEvent]) -> None:
        self.events.extend(events)


class FakeConsumers:
    def __init__(self, by_endpoint: dict[str, ConsumerFacts] | None = None) -> None:
        self.by_endpoint = by_endpoint or {}
        self.lookups: list[tuple[str, str, tuple[str, ...]]] = []

    def facts(
        self, account: str, region: str, endpoint_ids: Sequence[str]
    ) -> dict[str, ConsumerFacts]:
        self.lookups.append((account, region, tuple(endpoint_ids)))
        return {
            e: self.by_endpoint.get(e, ConsumerFacts.unknown("no consumer role configured"))
            for e in endpoint_ids
        }


class FakeLog:
    """The decision log in memory: items written, and the revocation notices among them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.notices: dict[str, RevocationNotice] = {}
        self.intents: dict[str, dict[str, Any]] = {}

    def write(self, items: Sequence[Mapping[str, Any]]) -> None:
        for item in items:
            self.items.append(dict(item))
            if item.get("kind") == "revocation-notice":
                self.notices[item["endpoint_id"]] = RevocationNotice(
                    NOW, item["policy_hash"], item["correlation_id"]
                )

    def notice(self, endpoint_id: str) -> RevocationNotice | None:
        return self.notices.get(endpoint_id)

    def notice_item(self, endpoint_id: str, notice: RevocationNotice) -> dict[str, Any]:
        return {
            "endpoint_id": endpoint_id,
            "kind": "revocation-notice",
            "policy_hash": notice.policy_hash,
            "correlation_id": notice.correlation_id,
        }

    def begin_intent(self, item: Mapping[str, Any], now: datetime) -> None:
        held = self.intents.get(item["endpoint_id"])
        if held is not None and held["status"] == "open" and held["claim"] != item["claim"]:
            raise IntentConflict(f"{item['endpoint_id']}: another invocation has an open intent")
        self.intents[item["endpoint_id"]] = {**item, "status": "open"}

    def open_intent(self, endpoint_id: str) -> dict[str, Any] | None:
        held = self.intents.get(endpoint_id)
        return dict(held) if held is not None and held["status"] == "open" else None

    def close_intent(self, endpoint_id: str, claim: str) -> None:
        held = self.intents.get(endpoint_id)
        if held is not None and held["claim"] == claim:
            held["status"] = "done"


def pending(
    endpoint_id: str,
    *,
    account: str = "111122223333",
    service_id: str = "vpce-svc-0a1b2c3d4e5f67890",
    state: str = "pendingAcceptance",
    age: timedelta = timedelta(seconds=5),
) -> Connection:
    return Connection(service_id, endpoint_id, account, "us-east-1", state, NOW - age)


def _implements_the_ports() -> None:
    """Never called: `mypy tests/unit/handlers/handler_fakes.py` checks the fakes against the
    ports of Decide's flow."""
    ec2: ports.Connections = FakeEc2()
    consumers: ports.Consumers = FakeConsumers()
    log: ports.Log = FakeLog()
    bus: ports.Delivery = FakeBus()
    del ec2, consumers, log, bus
