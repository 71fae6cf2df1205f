"""Powertools idempotency for decisions that are acted on in batches.

Powertools' decorators wrap one call; Decide claims every record of a batch first, acts on
the new ones together (one call per service), then completes or releases each claim. This
adapter drives the same Powertools persistence layer (the `IDEMPOTENCY_TABLE` layout, the
same conditional writes) through its public save/get/delete methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)
from botocore.exceptions import ClientError

from acceptor.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A held request is decided again by a later sweep once its key has expired.
EXPIRES_AFTER_SECONDS = 3600
KEY_PREFIX = "privatelink-acceptor.decide"

ClaimStatus = Literal["new", "done", "busy"]


@dataclass(frozen=True)
class Claim:
    status: ClaimStatus
    result: Mapping[str, Any] | None = None
    """What the first run stored, for `done`."""
    held_until: datetime | None = None
    """For `busy`: when the claim may be retaken. Powertools' conditional put retakes an
    in-progress claim once its in-progress expiry (the claiming invocation's remaining time)
    has passed, so a claim whose Lambda died blocks its request only until then."""

    def why_busy(self) -> str:
        until = (
            "until its record expires"
            if self.held_until is None
            else f"until {self.held_until.isoformat(timespec='seconds')}"
        )
        return (
            "claimed by an invocation that has not completed it (still running, or stopped "
            f"before it could release the claim); the claim is held {until}, then retaken"
        )


class Guard(Protocol):
    def claim(self, key: Mapping[str, str], remaining_ms: int | None) -> Claim: ...

    def complete(self, key: Mapping[str, str], result: Mapping[str, Any]) -> None: ...

    def release(self, key: Mapping[str, str], error: Exception) -> None: ...


class PowertoolsGuard:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        expires_after_seconds: int = EXPIRES_AFTER_SECONDS,
    ) -> None:
        self._store = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
        self._store.configure(
            IdempotencyConfig(expires_after_seconds=expires_after_seconds),
            key_prefix=KEY_PREFIX,
        )

    def claim(self, key: Mapping[str, str], remaining_ms: int | None) -> Claim:
        data = dict(key)
        try:
            self._store.save_inprogress(data, remaining_time_in_millis=remaining_ms)
        except ClientError as err:
            raise translate(err, "PutItem") from err
        except IdempotencyItemAlreadyExistsError as exists:
            record = exists.old_data_record
            if record is None:
                try:
                    record = self._store.get_record(data)
                except IdempotencyItemNotFoundError:
                    return Claim("busy")  # gone between the two calls: try again later
                except ClientError as err:
                    raise translate(err, "GetItem") from err
            if record is not None and record.status == STATUS_CONSTANTS["COMPLETED"]:
                return Claim("done", record.response_json_as_dict())
            return Claim("busy", held_until=_held_until(record))
        return Claim("new")

    def complete(self, key: Mapping[str, str], result: Mapping[str, Any]) -> None:
        try:
            self._store.save_success(dict(key), dict(result))
        except ClientError as err:
            raise translate(err, "UpdateItem") from err

    def release(self, key: Mapping[str, str], error: Exception) -> None:
        try:
            self._store.delete_record(dict(key), error)
        except ClientError as err:
            raise translate(err, "DeleteItem") from err


def _held_until(record: DataRecord | None) -> datetime | None:
    if record is None:
        return None
    if record.in_progress_expiry_timestamp is not None:
        return datetime.fromtimestamp(float(record.in_progress_expiry_timestamp) / 1000, UTC)
    if record.expiry_timestamp is not None:
        return datetime.fromtimestamp(float(record.expiry_timestamp), UTC)
    return None


class MemoryGuard:
    """Claims kept in this execution environment only: for runs without `IDEMPOTENCY_TABLE`."""

    def __init__(self, expires_after_seconds: int = EXPIRES_AFTER_SECONDS) -> None:
        self._expires_after = expires_after_seconds
        # name -> (written at, result or None while in progress, in progress until)
        self._records: dict[
            tuple[tuple[str, str], ...], tuple[float, Mapping[str, Any] | None, float]
        ] = {}
        self._lock = threading.Lock()

    def claim(self, key: Mapping[str, str], remaining_ms: int | None) -> Claim:
        name = tuple(sorted(key.items()))
        now = time.monotonic()
        with self._lock:
            found = self._records.get(name)
            if found is not None and found[1] is not None and now - found[0] < self._expires_after:
                return Claim("done", found[1])
            # In progress: held for the claiming invocation's remaining time (as Powertools'
            # in-progress expiry), or until the record expires when that is not known.
            if found is not None and found[1] is None and now < found[2]:
                return Claim("busy")
            hold = remaining_ms / 1000 if remaining_ms is not None else self._expires_after
            self._records[name] = (now, None, now + hold)
        return Claim("new")

    def complete(self, key: Mapping[str, str], result: Mapping[str, Any]) -> None:
        with self._lock:
            now = time.monotonic()
            self._records[tuple(sorted(key.items()))] = (now, dict(result), now)

    def release(self, key: Mapping[str, str], error: Exception) -> None:
        with self._lock:
            self._records.pop(tuple(sorted(key.items())), None)
