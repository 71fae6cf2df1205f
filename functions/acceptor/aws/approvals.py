"""The approvals table (DynamoDB `APPROVAL_TABLE`): one approval record per endpoint.

Key `endpoint_id`; TTL attribute `ttl` (the record's expiry). ApprovalFunction alone writes
it, with a conditional put: a record is written only where none is, or where the one there
has lapsed, so two people deciding at once cannot overwrite each other, and a repeated
request finds its own record (idempotent). Decide only reads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from acceptor.approval.model import ApprovalRecord
from acceptor.aws.errors import translate, unless_condition_failed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class RecordContended(Exception):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"the approval record of {endpoint_id} changes under us; try again")


class ApprovalStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    def record(self, record: ApprovalRecord, now: datetime) -> ApprovalRecord:
        """Write `record` unless a live one is there; return the record that stands."""
        for _ in range(2):  # a live record deleted between the put and the read: once more
            if self._put(record, now):
                return record
            standing = self.get(record.endpoint_id)
            if standing is not None:
                return standing
        raise RecordContended(record.endpoint_id)

    def _put(self, record: ApprovalRecord, now: datetime) -> bool:
        try:
            self._client.put_item(
                TableName=self.table,
                Item={key: _serialize(value) for key, value in record.to_item().items()},
                # `ttl` is epoch seconds: a record whose expiry has passed may be replaced
                # (DynamoDB's TTL deletes lapsed records only eventually).
                ConditionExpression="attribute_not_exists(endpoint_id) OR #ttl <= :now",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            )
        except ClientError as err:
            unless_condition_failed(err, "PutItem")
            return False
        return True

    def get(self, endpoint_id: str) -> ApprovalRecord | None:
        try:
            response = self._client.get_item(
                TableName=self.table,
                Key={"endpoint_id": {"S": endpoint_id}},
                ConsistentRead=True,
            )
        except ClientError as err:
            raise translate(err, "GetItem") from err
        item = response.get("Item")
        if item is None:
            return None
        return ApprovalRecord.from_item({k: _deserialize(v) for k, v in item.items()})
