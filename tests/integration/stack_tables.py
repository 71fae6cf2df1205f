"""The stack's DynamoDB tables as template.yaml declares them, for tests that build the stack
by hand: one place for their keys."""

from __future__ import annotations

from typing import Any

# table kind -> (partition key, sort key or None), as in template.yaml.
KEYS: dict[str, tuple[str, str | None]] = {
    "decisions": ("endpoint_id", "decided_at"),
    "security-group-rules": ("endpoint_id", "group_id"),
    "idempotency": ("id", None),
    "approvals": ("endpoint_id", None),
}


# table kind -> its global secondary indexes: name -> (partition key, sort key).
INDEXES: dict[str, dict[str, tuple[str, str]]] = {
    "decisions": {"by-service": ("decision_service_id", "decided_at")},
}


def create_table(dynamodb: Any, kind: str, name: str) -> None:
    partition, sort = KEYS[kind]
    keys = [(partition, "HASH")] + ([(sort, "RANGE")] if sort else [])
    indexes = INDEXES.get(kind, {})
    attributes = dict.fromkeys([key for key, _ in keys])
    for index_keys in indexes.values():
        attributes.update(dict.fromkeys(index_keys))
    extra: dict[str, Any] = {}
    if indexes:
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in indexes.items()
        ]
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": role} for key, role in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in attributes],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
