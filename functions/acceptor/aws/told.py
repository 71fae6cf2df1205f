"""What people were last told per endpoint (docs/notifications.md, "Once per change"), kept in
the idempotency table beside NotifyFunction's per-channel records (its own key prefix).

One conditional UpdateItem per event: it records the event's news and succeeds only when it is
news (the decision, rule or state differ from what people were last told) observed after what
they were last told, or when it is a retry of the event that told it. So a duplicate, a stale
delivery or an unchanged hold re-decided by a later sweep is not sent again.

The daily digest of held requests claims its day the same way (`claim_digest`): one item per
UTC day, written by the first scheduled event of that day; its own retries pass, any other
event of the same day finds the day taken (docs/notifications.md, "The daily digest").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acceptor.aws.errors import unless_condition_failed
from acceptor.notify.cadence import Told

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_PREFIX = "privatelink-acceptor.told#"
# Powertools' TTL attribute on the idempotency table; kept long past any connection's life.
EXPIRATION_ATTRIBUTE = "expiration"
KEEP = timedelta(days=400)
DIGEST_PREFIX = "privatelink-acceptor.digest#"
# A day's claim outlives Lambda's retries and a redrive from the dead-letter queue (a week).
DIGEST_KEEP = timedelta(days=8)


class ToldLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def is_news(self, told: Told) -> bool:
        """Record `told` and return True when people must be told; False for no news."""
        observed = told.observed_at.astimezone(UTC).isoformat()
        names = {"#state": "state", "#observed": "observed_at", "#event": "event_id"}
        values: dict[str, Any] = {
            ":state": {"S": told.state},
            ":observed": {"S": observed},
            ":event": {"S": told.event_id},
            ":expires": {"N": str(int((told.observed_at + KEEP).timestamp()))},
        }
        changes = ["#state <> :state"]
        sets = ["#state = :state", "#observed = :observed", "#event = :event", "#exp = :expires"]
        names["#exp"] = EXPIRATION_ATTRIBUTE
        if told.decision is not None:
            names.update({"#decision": "decision", "#rule": "rule"})
            values.update({":decision": {"S": told.decision}, ":rule": {"S": told.rule or ""}})
            changes += [
                "#decision <> :decision",
                "#rule <> :rule",
                "attribute_not_exists(#decision)",
            ]
            sets += ["#decision = :decision", "#rule = :rule"]
        condition = (
            "attribute_not_exists(id) OR #event = :event OR "
            f"(#observed < :observed AND ({' OR '.join(changes)}))"
        )
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": KEY_PREFIX + told.endpoint_id}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            unless_condition_failed(err, "UpdateItem")
            return False
        return True

    def claim_digest(self, day: date, event_id: str, now: datetime) -> bool:
        """Claim the digest of `day` for the scheduled event `event_id`: True for the first
        event of the day and for its retries, False when another event already claimed it."""
        expires = datetime.combine(day, datetime.min.time(), UTC) + DIGEST_KEEP
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": DIGEST_PREFIX + day.isoformat()},
                    "event_id": {"S": event_id},
                    "claimed_at": {"S": now.astimezone(UTC).isoformat()},
                    EXPIRATION_ATTRIBUTE: {"N": str(int(expires.timestamp()))},
                },
                ConditionExpression="attribute_not_exists(id) OR #event = :event",
                ExpressionAttributeNames={"#event": "event_id"},
                ExpressionAttributeValues={":event": {"S": event_id}},
            )
        except ClientError as err:
            unless_condition_failed(err, "PutItem")
            return False
        return True
