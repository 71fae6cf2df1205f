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


def create_table(dynamodb: Any, kind: str, name: str) -> None:
    partition, sort = KEYS[kind]
    keys = [(partition, "HASH")] + ([(sort, "RANGE")] if sort else [])
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": role} for key, role in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
