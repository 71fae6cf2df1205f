"""The daily digest's adapters: the decision log's read by service (aws/decision_log.py) and the
day's claim (aws/told.py), against botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from acceptor.aws.clients import AwsClients
from acceptor.aws.decision_log import DecisionLog
from acceptor.aws.errors import Throttled
from acceptor.aws.told import ToldLog
from helpers.aws import fake_session

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
NOW = datetime(2025, 3, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def aws() -> AwsClients:
    return AwsClients(fake_session())


def stubbed(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def item(endpoint: str, decided_at: str, decision: str = "hold") -> dict[str, Any]:
    return {
        "endpoint_id": {"S": endpoint},
        "decided_at": {"S": decided_at},
        "decision_service_id": {"S": SERVICE},
        "kind": {"S": "decision"},
        "decision": {"S": decision},
        "expires_at": {"N": "1800000000"},
    }


def test_the_newest_record_of_each_endpoint_is_read_back_to_the_oldest_creation(
    aws: AwsClients,
) -> None:
    log = DecisionLog(aws.dynamodb(), "decisions")
    first_page = [item("vpce-1", "2025-03-07T07:00:00Z"), item("vpce-1", "2025-03-07T06:00:00Z")]
    for stubber in stubbed(aws.dynamodb()):
        stubber.add_response(
            "query",
            {"Items": first_page, "LastEvaluatedKey": {"endpoint_id": {"S": "vpce-1"}}},
            {
                "TableName": "decisions",
                "IndexName": "by-service",
                "KeyConditionExpression": "decision_service_id = :s AND decided_at >= :since",
                "ExpressionAttributeValues": {
                    ":s": {"S": SERVICE},
                    # the oldest creation, less the margin for clocks
                    ":since": {"S": "2025-03-05T05:55:00Z"},
                },
                "ScanIndexForward": False,
            },
        )
        stubber.add_response(
            "query",
            {"Items": [item("vpce-2", "2025-03-06T00:00:00Z", "accept")]},
            {
                "TableName": "decisions",
                "IndexName": "by-service",
                "KeyConditionExpression": ANY,
                "ExpressionAttributeValues": ANY,
                "ScanIndexForward": False,
                "ExclusiveStartKey": {"endpoint_id": {"S": "vpce-1"}},
            },
        )

        latest = log.latest_by_service(
            SERVICE, {"vpce-1", "vpce-2", "vpce-3"}, since=datetime(2025, 3, 5, 6, tzinfo=UTC)
        )

    assert {k: (v["decided_at"], v["decision"]) for k, v in latest.items()} == {
        "vpce-1": ("2025-03-07T07:00:00Z", "hold"),
        "vpce-2": ("2025-03-06T00:00:00Z", "accept"),
    }
    assert latest["vpce-1"]["expires_at"] == 1800000000  # numbers as JSON wrote them


def test_reading_stops_once_every_endpoint_has_its_record(aws: AwsClients) -> None:
    log = DecisionLog(aws.dynamodb(), "decisions")
    for stubber in stubbed(aws.dynamodb()):
        stubber.add_response(
            "query",
            {
                "Items": [item("vpce-1", "2025-03-07T07:00:00Z")],
                "LastEvaluatedKey": {"endpoint_id": {"S": "vpce-1"}},
            },
        )

        latest = log.latest_by_service(SERVICE, {"vpce-1"})

    assert set(latest) == {"vpce-1"}


def test_a_throttled_read_by_service_is_a_domain_error(aws: AwsClients) -> None:
    log = DecisionLog(aws.dynamodb(), "decisions")
    for stubber in stubbed(aws.dynamodb()):
        stubber.add_client_error("query", "ProvisionedThroughputExceededException")

        with pytest.raises(Throttled):
            log.latest_by_service(SERVICE, {"vpce-1"})


def test_the_days_claim_is_a_conditional_put_that_only_the_same_event_passes_again(
    aws: AwsClients,
) -> None:
    told = ToldLog(aws.dynamodb(), "idempotency")
    for stubber in stubbed(aws.dynamodb()):
        stubber.add_response(
            "put_item",
            {},
            {
                "TableName": "idempotency",
                "Item": {
                    "id": {"S": "privatelink-acceptor.digest#2025-03-07"},
                    "event_id": {"S": "event-1"},
                    "claimed_at": {"S": NOW.isoformat()},
                    "expiration": {"N": ANY},
                },
                "ConditionExpression": "attribute_not_exists(id) OR #event = :event",
                "ExpressionAttributeNames": {"#event": "event_id"},
                "ExpressionAttributeValues": {":event": {"S": "event-1"}},
            },
        )
        stubber.add_client_error("put_item", "ConditionalCheckFailedException")

        assert told.claim_digest(date(2025, 3, 7), "event-1", NOW) is True
        assert told.claim_digest(date(2025, 3, 7), "event-2", NOW) is False
