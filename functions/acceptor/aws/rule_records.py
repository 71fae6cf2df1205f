"""The rule table: which security-group rules the acceptor created, per endpoint and group.

A table of its own rather than items in the decision log: the decision log expires (TTL) and a
rule record must not (an expired record would orphan rules that could then never be removed),
and readers of the decision history should not meet items of another kind. Removal trusts only
what is recorded here (and the claim tag it names), so a rule someone else added, however
identical, is never removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from acceptor.aws.errors import translate, unless_condition_failed
from acceptor.security_groups.model import GroupRecord, Intent, Operation, Permission, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

TRANSACTION_CANCELED = "TransactionCanceledException"
CONDITION_FAILED_REASON = "ConditionalCheckFailed"
TRANSACTION_ITEMS = 100  # TransactWriteItems' limit


class RuleRecordTable:
    """The rule table: one item per endpoint and group, holding the IDs of the rules it holds
    (created, or joined: a rule of ours that another connection needed first), one item per
    rule listing its holders, and one per open intent of a change of a group.

    Key: `endpoint_id` (partition), `group_id` (sort). Attributes: `side`, `owner_account`,
    `region`, `claim`, `rule_ids` (string set, absent when empty), `created_at`, `updated_at`.
    No TTL: a record must outlive the rules it lists, or they could never be removed.
    """

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._clock = clock

    def load(self, endpoint_id: str) -> tuple[GroupRecord, ...]:
        records: list[GroupRecord] = []
        pages = self._dynamodb.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="endpoint_id = :e",
            ExpressionAttributeValues={":e": {"S": endpoint_id}},
            ConsistentRead=True,
        )
        for page in pages:
            records.extend(_record(item) for item in page.get("Items", []))
        return tuple(records)

    def claim(self, record: GroupRecord) -> GroupRecord:
        item = self._dynamodb.update_item(
            TableName=self._table,
            Key=_key(record),
            UpdateExpression=_SET_IF_ABSENT,
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=self._values(record),
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return _record(item)

    def remember(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        ids = sorted(set(rule_ids))
        if not ids:
            return
        # SET-if-absent too: if a removal dropped the record meanwhile, it comes back whole.
        self._dynamodb.update_item(
            TableName=self._table,
            Key=_key(record),
            UpdateExpression=_SET_IF_ABSENT + " ADD rule_ids :ids",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={**self._values(record), ":ids": {"SS": ids}},
        )

    def forget(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        ids = sorted(set(rule_ids))
        if ids:
            try:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=_key(record),
                    UpdateExpression="DELETE rule_ids :ids SET #updated = :now",
                    ConditionExpression="attribute_exists(endpoint_id)",
                    ExpressionAttributeNames={"#updated": "updated_at"},
                    ExpressionAttributeValues={
                        ":ids": {"SS": ids},
                        ":now": {"S": self._clock().isoformat()},
                    },
                )
            except ClientError as err:
                unless_condition_failed(err, "UpdateItem")
                return
        try:
            # Only an empty record of the same claim goes: rules recorded meanwhile keep it.
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=_key(record),
                ConditionExpression="attribute_not_exists(rule_ids) AND #claim = :claim",
                ExpressionAttributeNames={"#claim": "claim"},
                ExpressionAttributeValues={":claim": {"S": record.claim}},
            )
        except ClientError as err:
            unless_condition_failed(err, "DeleteItem")

    # Holders: which connections a rule serves (docs/security-groups.md, "Shared rules"). One
    # item per rule the acceptor created, beside the group records: partition `rule#<rule ID>`
    # (never an endpoint ID, so `load` does not meet it), sort key the group, `holders` the
    # endpoint IDs. Read strongly consistent, like the records.

    def holders(self, group_id: str, rule_id: str) -> frozenset[str]:
        item = self._dynamodb.get_item(
            TableName=self._table,
            Key=_holder_key(group_id, rule_id),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return frozenset()
        return frozenset(item.get("holders", {}).get("SS", []))

    def hold(self, group_id: str, rule_id: str, endpoint_id: str, *, created: bool) -> bool:
        """Add `endpoint_id` to the rule's holders. A rule we just `created` gets its item; an
        existing rule is joined only while its item exists (it is the acceptor's, and no
        removal has let it go): False when it does not."""
        condition = {} if created else {"ConditionExpression": "attribute_exists(holders)"}
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=_holder_key(group_id, rule_id),
                UpdateExpression="ADD holders :e SET #updated = :now",
                ExpressionAttributeNames={"#updated": "updated_at"},
                ExpressionAttributeValues={
                    ":e": {"SS": [endpoint_id]},
                    ":now": {"S": self._clock().isoformat()},
                },
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as err:
            unless_condition_failed(err, "UpdateItem")
            return False
        return True

    def release(self, group_id: str, rule_id: str, endpoint_id: str) -> None:
        """Drop `endpoint_id` from the rule's holders; the item goes once nobody holds it.

        Not in one transaction with the record's `forget`, on purpose: the removal releases
        first and forgets after, and either stop between is safe, because a removal never
        trusts a holder without re-reading its connection (`remove._unheld`). Stopped after the
        release, the record still lists the rule: the retry re-reads the other holders and
        keeps (releasing again, a no-op) or revokes it. A holder item left naming a connection
        that is gone keeps nothing: its re-read shows it gone."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=_holder_key(group_id, rule_id),
                UpdateExpression="DELETE holders :e",
                ConditionExpression="attribute_exists(holders)",
                ExpressionAttributeValues={":e": {"SS": [endpoint_id]}},
            )
        except ClientError as err:
            unless_condition_failed(err, "UpdateItem")
        self.drop_rule(group_id, rule_id, only_if_unheld=True)

    def drop_rule(self, group_id: str, rule_id: str, *, only_if_unheld: bool = False) -> None:
        """Forget the rule's holders (it was revoked), or only when none is left."""
        condition = (
            {"ConditionExpression": "attribute_not_exists(holders)"} if only_if_unheld else {}
        )
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=_holder_key(group_id, rule_id),
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as err:
            unless_condition_failed(err, "DeleteItem")

    # Holding a rule and recording it are two items that change together: one TransactWriteItems
    # (docs/security-groups.md, "Shared rules"), so that no stop leaves a connection holding a
    # rule its record does not list (its removal would never release it) or listing one it does
    # not hold. Releasing is ordered instead (see `release`).

    def record_created(self, record: GroupRecord, rule_ids: Iterable[str]) -> None:
        ids = sorted(set(rule_ids))
        # A transaction holds at most 100 items: the record's update and 99 holder items.
        for start in range(0, len(ids), TRANSACTION_ITEMS - 1):
            chunk = ids[start : start + TRANSACTION_ITEMS - 1]
            items: list[TransactWriteItemTypeDef] = [
                {"Update": self._holding(record.group_id, rid, record.endpoint_id)} for rid in chunk
            ]
            items.append({"Update": self._listing(record, chunk)})
            self._dynamodb.transact_write_items(TransactItems=items)

    def join(self, record: GroupRecord, rule_id: str) -> bool:
        holding = self._holding(record.group_id, rule_id, record.endpoint_id)
        # Only while the rule is the acceptor's and some connection still holds it.
        holding["ConditionExpression"] = "attribute_exists(holders)"
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[{"Update": holding}, {"Update": self._listing(record, [rule_id])}]
            )
        except ClientError as err:
            if _code(err) == TRANSACTION_CANCELED and _reasons(err)[:1] == [
                CONDITION_FAILED_REASON
            ]:
                return False
            raise translate(err, "TransactWriteItems") from err
        return True

    def _holding(self, group_id: str, rule_id: str, endpoint_id: str) -> UpdateTypeDef:
        return {
            "TableName": self._table,
            "Key": _holder_key(group_id, rule_id),
            "UpdateExpression": "ADD holders :e SET #updated = :now",
            "ExpressionAttributeNames": {"#updated": "updated_at"},
            "ExpressionAttributeValues": {
                ":e": {"SS": [endpoint_id]},
                ":now": {"S": self._clock().isoformat()},
            },
        }

    def _listing(self, record: GroupRecord, rule_ids: Iterable[str]) -> UpdateTypeDef:
        # SET-if-absent, as `remember`: a record a removal dropped meanwhile comes back whole.
        return {
            "TableName": self._table,
            "Key": _key(record),
            "UpdateExpression": _SET_IF_ABSENT + " ADD rule_ids :ids",
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": {
                **self._values(record),
                ":ids": {"SS": sorted(set(rule_ids))},
            },
        }

    # Intents (acceptor.security_groups.intents): partition `intent#<endpoint ID>` (never an
    # endpoint ID, so `load` does not meet it), sort key the group. In this table because an
    # open intent must outlive the rules it may have created: no TTL.

    def begin(self, intent: Intent) -> Intent:
        stored = Intent(
            operation=intent.operation,
            record=intent.record,
            permissions=intent.permissions,
            rule_ids=tuple(sorted(set(intent.rule_ids))),
            started_at=self._clock().isoformat(),
        )
        self._dynamodb.put_item(TableName=self._table, Item=_intent_item(stored))
        return stored

    def intents(self, endpoint_id: str) -> tuple[Intent, ...]:
        found: list[Intent] = []
        pages = self._dynamodb.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="endpoint_id = :e",
            ExpressionAttributeValues={":e": {"S": f"{INTENT_PREFIX}{endpoint_id}"}},
            ConsistentRead=True,
        )
        for page in pages:
            found.extend(_intent(item) for item in page.get("Items", []))
        return tuple(found)

    def end(self, intent: Intent) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=_intent_key(intent.endpoint_id, intent.group_id),
                ConditionExpression="started_at = :started",
                ExpressionAttributeValues={":started": {"S": intent.started_at}},
            )
        except ClientError as err:
            unless_condition_failed(err, "DeleteItem")

    def _values(self, record: GroupRecord) -> dict[str, Any]:
        return {
            ":side": {"S": record.side},
            ":owner": {"S": record.owner_account},
            ":region": {"S": record.region},
            ":claim": {"S": record.claim},
            ":now": {"S": self._clock().isoformat()},
        }


# Names, not words: `region` and others are DynamoDB reserved words.
_NAMES = {
    "#side": "side",
    "#owner": "owner_account",
    "#region": "region",
    "#claim": "claim",
    "#created": "created_at",
    "#updated": "updated_at",
}
_SET_IF_ABSENT = (
    "SET #side = if_not_exists(#side, :side), #owner = if_not_exists(#owner, :owner),"
    " #region = if_not_exists(#region, :region), #claim = if_not_exists(#claim, :claim),"
    " #created = if_not_exists(#created, :now), #updated = :now"
)


def _key(record: GroupRecord) -> dict[str, Any]:
    return {"endpoint_id": {"S": record.endpoint_id}, "group_id": {"S": record.group_id}}


HOLDER_PREFIX = "rule#"


def _holder_key(group_id: str, rule_id: str) -> dict[str, Any]:
    return {"endpoint_id": {"S": f"{HOLDER_PREFIX}{rule_id}"}, "group_id": {"S": group_id}}


INTENT_PREFIX = "intent#"


def _intent_key(endpoint_id: str, group_id: str) -> dict[str, Any]:
    return {"endpoint_id": {"S": f"{INTENT_PREFIX}{endpoint_id}"}, "group_id": {"S": group_id}}


def _intent_item(intent: Intent) -> dict[str, Any]:
    record = intent.record
    item: dict[str, Any] = {
        **_intent_key(record.endpoint_id, record.group_id),
        "kind": {"S": "intent"},
        "operation": {"S": intent.operation},
        "side": {"S": record.side},
        "owner_account": {"S": record.owner_account},
        "region": {"S": record.region},
        "claim": {"S": record.claim},
        "permissions": {
            "L": [
                {"M": {"port": {"N": str(p.port)}, "cidr": {"S": p.cidr}}}
                for p in intent.permissions
            ]
        },
        "started_at": {"S": intent.started_at},
    }
    if intent.rule_ids:
        item["rule_ids"] = {"SS": sorted(set(intent.rule_ids))}
    return item


def _intent(item: Mapping[str, Any]) -> Intent:
    return Intent(
        operation=cast("Operation", item["operation"]["S"]),
        record=GroupRecord(
            endpoint_id=item["endpoint_id"]["S"].removeprefix(INTENT_PREFIX),
            group_id=item["group_id"]["S"],
            side=cast("Side", item["side"]["S"]),
            owner_account=item["owner_account"]["S"],
            region=item["region"]["S"],
            claim=item["claim"]["S"],
        ),
        permissions=tuple(
            Permission(int(p["M"]["port"]["N"]), p["M"]["cidr"]["S"])
            for p in item.get("permissions", {}).get("L", [])
        ),
        rule_ids=tuple(sorted(item.get("rule_ids", {}).get("SS", []))),
        started_at=item["started_at"]["S"],
    )


def _record(item: Mapping[str, Any]) -> GroupRecord:
    return GroupRecord(
        endpoint_id=item["endpoint_id"]["S"],
        group_id=item["group_id"]["S"],
        side=cast("Side", item["side"]["S"]),
        owner_account=item["owner_account"]["S"],
        region=item["region"]["S"],
        claim=item["claim"]["S"],
        rule_ids=frozenset(item.get("rule_ids", {}).get("SS", [])),
    )


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _reasons(err: ClientError) -> list[str]:
    """Why each item of a cancelled transaction failed, in order (`None` for those that did
    not)."""
    reasons: list[Any] = list(err.response.get("CancellationReasons", []))
    return [str(reason.get("Code", "None")) for reason in reasons]
