"""The decision log (DynamoDB `DECISION_TABLE`): one item per decision, kept until its TTL.

Keys: `endpoint_id` (partition) and `decided_at` (sort, ISO 8601 UTC): a connection's history
reads in order. The sparse index `by-service` (`decision_service_id`, `decided_at`) holds the
decision records only: a service's decisions, newest first (`acceptor connections`). The
revocation notice of an endpoint lives beside its decisions under the fixed sort key
`revocation#notice` (its `decided_at` is the report's time, in `reported_at`).
The intent of an accept or reject lives under the fixed sort key `intent` (docs/architecture.md,
"Intents"): written before the call, closed after the decision is delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from acceptor.aws.errors import translate, unless_condition_failed
from acceptor.decision.records import NOTICE_LIFETIME, RevocationNotice

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_ITEMS = 25  # BatchWriteItem's limit
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
NOTICE_KEY = "revocation#notice"
LATEST_PAGE = 20
BY_SERVICE = "by-service"
# A decision is written after its connection was read, so it is never older than the
# connection's creation; the margin covers clocks and the sub-second text of `decided_at`.
CREATION_MARGIN = timedelta(minutes=5)
INTENT_KEY = "intent"
# An open intent older than this belongs to an invocation that is over (Lambda's longest
# timeout is 15 minutes): another invocation may take the endpoint over.
INTENT_STALE_AFTER = timedelta(minutes=15)

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class DecisionsNotWritten(Exception):
    def __init__(self, endpoint_ids: Sequence[str]) -> None:
        self.endpoint_ids = tuple(endpoint_ids)
        super().__init__(f"{len(endpoint_ids)} decision records were not written")


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: as the JSON numbers they were written from."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class IntentConflict(Exception):
    """Another invocation holds an open intent for this endpoint: not acted on now."""


class DecisionLog:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.table = table
        self._sleep = sleep

    def write(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Write decision items (each with `endpoint_id` and `decided_at`), 25 per call."""
        for start in range(0, len(items), BATCH_ITEMS):
            self._write_chunk(items[start : start + BATCH_ITEMS])

    def latest(self, endpoint_id: str) -> dict[str, Any] | None:
        """The connection's last decision record. Other items share the partition (the
        revocation notice, SecurityGroups' records), so pages are read newest first until a
        decision shows."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "endpoint_id = :e",
            "FilterExpression": "#kind = :decision",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {
                ":e": {"S": endpoint_id},
                ":decision": {"S": "decision"},
            },
            "ScanIndexForward": False,
            "Limit": LATEST_PAGE,
            "ConsistentRead": True,
        }
        while True:
            try:
                response = self._client.query(**request)
            except ClientError as err:
                raise translate(err, "Query") from err
            items = response.get("Items", [])
            if items:
                return {key: _deserialize(value) for key, value in items[0].items()}
            last = response.get("LastEvaluatedKey")
            if not last:
                return None
            request["ExclusiveStartKey"] = last

    def latest_by_service(
        self,
        service_id: str,
        endpoint_ids: Collection[str],
        since: datetime | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Each endpoint's newest decision record among a service's, from the `by-service`
        index (newest first, never a scan; eventually consistent). Reading stops once every
        endpoint has one, or at `since` (the oldest creation time of the endpoints: no decision
        about them is older), so an endpoint never decided costs no more than the service's
        decisions since then. An endpoint without a record is absent from the result."""
        wanted = set(endpoint_ids)
        latest: dict[str, dict[str, Any]] = {}
        if not wanted:
            return latest
        for item in self._by_service(service_id, since):
            endpoint_id = str(item.get("endpoint_id"))
            if endpoint_id in wanted and endpoint_id not in latest:
                latest[endpoint_id] = item
                if len(latest) == len(wanted):
                    break
        return latest

    def _by_service(self, service_id: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        condition = "decision_service_id = :s"
        values: dict[str, Any] = {":s": {"S": service_id}}
        if since is not None:
            bound = (since - CREATION_MARGIN).astimezone(UTC).isoformat()
            condition += " AND decided_at >= :since"
            values[":since"] = {"S": bound.replace("+00:00", "Z")}
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_SERVICE,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        while True:
            try:
                response = self._client.query(**request)
            except ClientError as err:
                raise translate(err, "Query") from err
            for item in response.get("Items", []):
                record = {key: _plain(_deserialize(value)) for key, value in item.items()}
                if record.get("kind") == "decision":
                    yield record
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def notice(self, endpoint_id: str) -> RevocationNotice | None:
        item = self._fixed_item(endpoint_id, NOTICE_KEY)
        if item is None:
            return None
        return RevocationNotice(
            reported_at=datetime.fromisoformat(str(_deserialize(item["reported_at"]))),
            policy_hash=str(_deserialize(item["policy_hash"])),
            correlation_id=str(_deserialize(item["correlation_id"])),
        )

    def notice_item(self, endpoint_id: str, notice: RevocationNotice) -> dict[str, Any]:
        expires = notice.reported_at + NOTICE_LIFETIME + timedelta(days=1)
        return {
            "endpoint_id": endpoint_id,
            "decided_at": NOTICE_KEY,
            "kind": "revocation-notice",
            "reported_at": notice.reported_at.isoformat(),
            "policy_hash": notice.policy_hash,
            "correlation_id": notice.correlation_id,
            "expires_at": int(expires.timestamp()),
        }

    def begin_intent(self, item: Mapping[str, Any], now: datetime) -> None:
        """Open the intent `item` (with `endpoint_id`, `claim`, `started_at`): a conditional
        put that succeeds unless another claim's intent is open and not stale."""
        stored = {**item, "decided_at": INTENT_KEY, "kind": "intent", "status": "open"}
        try:
            self._client.put_item(
                TableName=self.table,
                Item={k: _serialize(v) for k, v in stored.items()},
                ConditionExpression=(
                    "attribute_not_exists(endpoint_id) OR #status <> :open "
                    "OR #claim = :claim OR started_at < :stale"
                ),
                ExpressionAttributeNames={"#status": "status", "#claim": "claim"},
                ExpressionAttributeValues={
                    ":open": {"S": "open"},
                    ":claim": {"S": str(item["claim"])},
                    ":stale": {"S": (now - INTENT_STALE_AFTER).isoformat()},
                },
            )
        except ClientError as err:
            unless_condition_failed(err, "PutItem")
            raise IntentConflict(
                f"{item['endpoint_id']}: another invocation has an open intent"
            ) from err

    def open_intent(self, endpoint_id: str) -> dict[str, Any] | None:
        """The endpoint's intent when it is still open (strongly consistent read)."""
        item = self._fixed_item(endpoint_id, INTENT_KEY)
        if item is None:
            return None
        intent = {k: _plain(_deserialize(v)) for k, v in item.items()}
        return intent if intent.get("status") == "open" else None

    def close_intent(self, endpoint_id: str, claim: str) -> None:
        """Mark the intent done, only if it is still this claim's (a newer one stays open)."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key={"endpoint_id": {"S": endpoint_id}, "decided_at": {"S": INTENT_KEY}},
                UpdateExpression="SET #status = :done",
                ConditionExpression="#claim = :claim",
                ExpressionAttributeNames={"#status": "status", "#claim": "claim"},
                ExpressionAttributeValues={":done": {"S": "done"}, ":claim": {"S": claim}},
            )
        except ClientError as err:
            unless_condition_failed(err, "UpdateItem")
            # Taken over by a newer intent: that one is closed by its own claim.

    def _write_chunk(self, items: Sequence[Mapping[str, Any]]) -> None:
        requests: list[Any] = [
            {"PutRequest": {"Item": {k: _serialize(v) for k, v in item.items()}}} for item in items
        ]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._client.batch_write_item(RequestItems={self.table: requests})
            except ClientError as err:
                raise translate(err, "BatchWriteItem") from err
            requests = list(response.get("UnprocessedItems", {}).get(self.table, []))
            if not requests:
                return
            if attempt < MAX_ATTEMPTS:
                self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        raise DecisionsNotWritten(
            [str(_deserialize(r["PutRequest"]["Item"]["endpoint_id"])) for r in requests]
        )

    def _fixed_item(self, endpoint_id: str, sort_key: str) -> dict[str, Any] | None:
        """The endpoint's item under a fixed sort key (the notice, the intent), read strongly
        consistent; None when there is none."""
        try:
            response = self._client.get_item(
                TableName=self.table,
                Key={"endpoint_id": {"S": endpoint_id}, "decided_at": {"S": sort_key}},
                ConsistentRead=True,
            )
        except ClientError as err:
            raise translate(err, "GetItem") from err
        item: dict[str, Any] | None = response.get("Item")
        return item
