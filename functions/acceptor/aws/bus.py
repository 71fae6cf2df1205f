"""PutEvents on the acceptor's bus: 10 entries a call, failed entries retried (bounded).

botocore retries a call that fails as a whole; a call that succeeds with `FailedEntryCount`
needs the failed entries sent again, which is what this adapter adds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acceptor.aws.errors import kind_of, translate
from acceptor.contract import BusEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

MAX_ENTRIES = 10  # PutEvents' limits: entries per call, and bytes per call
MAX_BYTES = 256 * 1024
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.2


@dataclass(frozen=True)
class FailedEntry:
    index: int
    """Position of the event in the list given to `put`."""
    code: str
    message: str


class EventsNotPut(Exception):
    def __init__(self, failed: Sequence[FailedEntry], total: int) -> None:
        self.failed = tuple(failed)
        codes = sorted({f.code for f in failed})
        super().__init__(f"{len(failed)} of {total} events were not put on the bus: {codes}")


class Bus:
    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.bus_name = bus_name
        self._sleep = sleep

    def put(self, events: Sequence[BusEvent]) -> None:
        """Put every event; raise `EventsNotPut` naming those that could not be put."""
        failed = self.try_put(events)
        if failed:
            raise EventsNotPut(failed, len(events))

    def try_put(self, events: Sequence[BusEvent]) -> list[FailedEntry]:
        """Put every event; return those that could not be put (after bounded retries)."""
        entries: list[Any] = [event.entry(self.bus_name) for event in events]
        failed: list[FailedEntry] = []
        for positions in _chunks(entries):
            failed.extend(self._put_chunk(entries, positions))
        return failed

    def _put_chunk(self, entries: list[Any], positions: list[int]) -> list[FailedEntry]:
        pending = positions
        final: list[FailedEntry] = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._client.put_events(Entries=[entries[i] for i in pending])
            except ClientError as err:
                raise translate(err, "PutEvents") from err
            retry: list[int] = []
            for position, result in zip(pending, response.get("Entries", []), strict=False):
                code = result.get("ErrorCode")
                if not code:
                    continue
                failure = FailedEntry(position, code, result.get("ErrorMessage", ""))
                if kind_of(code).retryable and attempt < MAX_ATTEMPTS:
                    retry.append(position)
                else:
                    final.append(failure)
            if not retry:
                break
            pending = retry
            self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        return final


def entry_size(entry: dict[str, Any]) -> int:
    """PutEvents' size of an entry: its text fields, in UTF-8, plus 14 bytes for the time."""
    texts = [entry["Source"], entry["DetailType"], entry["Detail"], *entry.get("Resources", [])]
    return 14 + sum(len(text.encode()) for text in texts)


def _chunks(entries: list[Any]) -> list[list[int]]:
    chunks: list[list[int]] = []
    size = 0
    for position, entry in enumerate(entries):
        grows = entry_size(entry)
        if not chunks or len(chunks[-1]) >= MAX_ENTRIES or size + grows > MAX_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(position)
        size += grows
    return chunks
