"""Connection notifications: their API, and the messages that reach a subscribed SQS queue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_aws_helpers import (
    ORDERS_SERVICE,
    PAYMENTS,
    PROVIDER,
    REPORTS_SERVICE,
    Inbox,
    create_endpoint,
    subscribe_inbox,
)

from acceptor_tools.local_aws import SHAPES, LocalAws, NotificationEvent

pytestmark = pytest.mark.disable_socket

ALL_EVENTS = ["Accept", "Connect", "Delete", "Reject"]


def _topic(aws: LocalAws, account: str, name: str) -> str:
    arn: str = aws.client("sns", account).create_topic(Name=name)["TopicArn"]
    return arn


def _messages(inbox: Inbox, count: int) -> list[dict[str, Any]]:
    received = inbox.receive(count)
    assert len(received) == count
    return [json.loads(envelope["Message"]) for envelope in received]


def test_world_service_notifies_connect_accept_reject_and_delete_to_its_topic(
    local_aws: LocalAws, provider_ec2: Any, orders_inbox: Inbox
) -> None:
    (endpoint,) = local_aws.create_endpoints(["payments-orders"])
    provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoint.id]
    )
    provider_ec2.reject_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoint.id]
    )
    local_aws.client("ec2", PAYMENTS).delete_vpc_endpoints(VpcEndpointIds=[endpoint.id])

    messages = _messages(orders_inbox, 4)

    assert [(m["eventType"], m["endpointState"]) for m in messages] == [
        ("Connect", "pendingAcceptance"),
        ("Accept", "available"),
        ("Reject", "rejected"),
        ("Delete", "deleted"),
    ]
    for message in messages:
        assert message == message | {
            "awsAccountId": PAYMENTS,
            "endpointServiceId": ORDERS_SERVICE,
            "endpointId": endpoint.id,
        }


def test_topic_receives_only_the_events_the_notification_asked_for(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    topic = _topic(local_aws, PROVIDER, "connect-only")
    inbox = subscribe_inbox(local_aws, topic, "connect-only")
    provider_ec2.create_vpc_endpoint_connection_notification(
        ServiceId=REPORTS_SERVICE, ConnectionNotificationArn=topic, ConnectionEvents=["Connect"]
    )
    (endpoint,) = local_aws.create_endpoints(["payments-reports"])
    provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=REPORTS_SERVICE, VpcEndpointIds=[endpoint.id]
    )

    assert [m["eventType"] for m in _messages(inbox, 1)] == ["Connect"]
    assert inbox.is_empty()


def test_consumer_notification_on_its_endpoint_hears_the_provider_decision(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    endpoint = create_endpoint(local_aws, PAYMENTS, "payments", "orders-api")
    topic = _topic(local_aws, PAYMENTS, "my-endpoint")
    sqs = local_aws.client("sqs", PAYMENTS)
    queue = sqs.create_queue(QueueName="consumer-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    local_aws.client("sns", PAYMENTS).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    local_aws.client("ec2", PAYMENTS).create_vpc_endpoint_connection_notification(
        VpcEndpointId=endpoint["VpcEndpointId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Accept", "Reject"],
    )

    provider_ec2.accept_vpc_endpoint_connections(
        ServiceId=ORDERS_SERVICE, VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )

    messages = _messages(Inbox(sqs, queue), 1)
    assert messages[0]["eventType"] == "Accept"
    assert messages[0]["endpointId"] == endpoint["VpcEndpointId"]


def test_notification_api_creates_describes_modifies_and_deletes(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    topic = _topic(local_aws, PROVIDER, "api")
    other = _topic(local_aws, PROVIDER, "api-2")
    created = provider_ec2.create_vpc_endpoint_connection_notification(
        ServiceId=REPORTS_SERVICE,
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect", "Accept"],
        ClientToken="token-1",
    )
    notification = created["ConnectionNotification"]
    assert created["ClientToken"] == "token-1"
    assert notification["ConnectionNotificationId"].startswith("vpce-nfn-")
    assert notification["ConnectionNotificationType"] == "Topic"
    assert notification["ConnectionNotificationState"] == "Enabled"
    notification_id = notification["ConnectionNotificationId"]

    again = provider_ec2.create_vpc_endpoint_connection_notification(
        ServiceId=REPORTS_SERVICE,
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect", "Accept"],
        ClientToken="token-1",
    )
    assert again["ConnectionNotification"]["ConnectionNotificationId"] == notification_id

    provider_ec2.modify_vpc_endpoint_connection_notification(
        ConnectionNotificationId=notification_id,
        ConnectionNotificationArn=other,
        ConnectionEvents=ALL_EVENTS,
    )
    (described,) = provider_ec2.describe_vpc_endpoint_connection_notifications(
        ConnectionNotificationId=notification_id
    )["ConnectionNotificationSet"]
    assert described["ConnectionNotificationArn"] == other
    assert described["ConnectionEvents"] == ALL_EVENTS
    assert described["ServiceId"] == REPORTS_SERVICE

    filtered = provider_ec2.describe_vpc_endpoint_connection_notifications(
        Filters=[
            {"Name": "service-id", "Values": [REPORTS_SERVICE]},
            {"Name": "connection-notification-arn", "Values": [other]},
        ]
    )["ConnectionNotificationSet"]
    assert [n["ConnectionNotificationId"] for n in filtered] == [notification_id]

    deleted = provider_ec2.delete_vpc_endpoint_connection_notifications(
        ConnectionNotificationIds=[notification_id, "vpce-nfn-0ffffffffffffffff"]
    )
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in deleted["Unsuccessful"]] == [
        ("vpce-nfn-0ffffffffffffffff", "InvalidConnectionNotification")
    ]
    remaining = provider_ec2.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "connection-notification-id", "Values": [notification_id]}]
    )["ConnectionNotificationSet"]
    assert remaining == []
    with pytest.raises(ClientError) as caught:
        provider_ec2.describe_vpc_endpoint_connection_notifications(
            ConnectionNotificationId=notification_id
        )
    assert caught.value.response["Error"]["Code"] == "InvalidConnectionNotification"


def test_notifications_are_listed_in_pages(local_aws: LocalAws, provider_ec2: Any) -> None:
    topic = _topic(local_aws, PROVIDER, "many")
    for _ in range(6):
        provider_ec2.create_vpc_endpoint_connection_notification(
            ServiceId=REPORTS_SERVICE, ConnectionNotificationArn=topic, ConnectionEvents=["Connect"]
        )
    paginator = provider_ec2.get_paginator("describe_vpc_endpoint_connection_notifications")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    listed = [n for page in pages for n in page["ConnectionNotificationSet"]]
    # the world's own notifications (orders-api, reports-api) plus these six
    assert [len(p["ConnectionNotificationSet"]) for p in pages] == [5, 3]
    assert len({n["ConnectionNotificationId"] for n in listed}) == 8


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"ServiceId": REPORTS_SERVICE, "ConnectionEvents": ["Explode"]}, "InvalidParameterValue"),
        ({"ConnectionEvents": ["Connect"]}, "InvalidParameterCombination"),
        (
            {
                "ServiceId": REPORTS_SERVICE,
                "VpcEndpointId": "vpce-1",
                "ConnectionEvents": ["Connect"],
            },
            "InvalidParameterCombination",
        ),
        (
            {"ServiceId": "vpce-svc-0ffffffffffffffff", "ConnectionEvents": ["Connect"]},
            "InvalidVpcEndpointServiceId.NotFound",
        ),
        ({"VpcEndpointId": "vpce-0ffffffffffffffff", "ConnectionEvents": ["Connect"]}, None),
    ],
)
def test_invalid_notification_requests_are_rejected(
    local_aws: LocalAws, provider_ec2: Any, request_fields: dict[str, Any], code: str | None
) -> None:
    topic = _topic(local_aws, PROVIDER, "invalid")
    with pytest.raises(ClientError) as caught:
        provider_ec2.create_vpc_endpoint_connection_notification(
            ConnectionNotificationArn=topic, **request_fields
        )
    assert caught.value.response["Error"]["Code"] == (code or "InvalidVpcEndpointId.NotFound")


def test_notification_to_a_topic_that_does_not_exist_is_rejected(provider_ec2: Any) -> None:
    with pytest.raises(ClientError) as caught:
        provider_ec2.create_vpc_endpoint_connection_notification(
            ServiceId=REPORTS_SERVICE,
            ConnectionNotificationArn=f"arn:aws:sns:us-east-1:{PROVIDER}:nothing-here",
            ConnectionEvents=["Connect"],
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_consumer_cannot_create_notification_for_the_provider_service(
    local_aws: LocalAws,
) -> None:
    topic = _topic(local_aws, PAYMENTS, "snoop")
    with pytest.raises(ClientError) as caught:
        local_aws.client("ec2", PAYMENTS).create_vpc_endpoint_connection_notification(
            ServiceId=ORDERS_SERVICE, ConnectionNotificationArn=topic, ConnectionEvents=["Connect"]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidVpcEndpointServiceId.NotFound"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_named_shape_carries_the_endpoint_and_service_ids(
    local_aws: LocalAws, orders_inbox: Inbox, shape: str
) -> None:
    local_aws.set_notification_shape(shape)
    (endpoint,) = local_aws.create_endpoints(["sandbox-orders"])

    (envelope,) = orders_inbox.receive(1)

    body = envelope["Message"]
    assert endpoint.id in body
    assert ORDERS_SERVICE in body
    if shape != "text":
        json.loads(body)


def test_callable_shape_writes_the_message(local_aws: LocalAws, orders_inbox: Inbox) -> None:
    def custom(event: NotificationEvent) -> str:
        return f"{event.event_type}|{event.endpoint_id}|{event.endpoint_region}"

    local_aws.set_notification_shape(custom)
    (endpoint,) = local_aws.create_endpoints(["analytics-orders"])

    (envelope,) = orders_inbox.receive(1)
    assert envelope["Message"] == f"Connect|{endpoint.id}|us-west-2"


def test_unknown_shape_name_is_refused(local_aws: LocalAws) -> None:
    with pytest.raises(ValueError, match="unknown notification shape"):
        local_aws.set_notification_shape("telepathy")


def test_deleted_topic_loses_the_message_but_not_the_action(
    local_aws: LocalAws, provider_ec2: Any
) -> None:
    topic = local_aws.world.services["orders-api"].notify_topic_arn
    local_aws.client("sns").delete_topic(TopicArn=topic)

    (endpoint,) = local_aws.create_endpoints(["partner-orders"])

    assert endpoint.state == "pendingAcceptance"
    (delivery,) = [d for d in local_aws.deliveries if d.event.endpoint_id == endpoint.id]
    assert (delivery.message_id, delivery.error) == (None, "topic not found")


def test_a_subscription_whose_queue_is_gone_fails_no_api_call_and_starves_no_other(
    local_aws: LocalAws,
) -> None:
    # Given the service's topic with a subscription to a queue that does not exist, before a
    # working one (AWS delivers to each subscription on its own, after the call succeeded)
    topic = local_aws.world.services["orders-api"].notify_topic_arn
    assert topic is not None
    absent = f"arn:aws:sqs:us-east-1:{PROVIDER}:watch"
    local_aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=absent)
    inbox = subscribe_inbox(local_aws, topic)

    # When a consumer creates an endpoint (its Connect notification goes to that topic) and
    # someone publishes to the topic directly
    (endpoint,) = local_aws.create_endpoints(["payments-orders"])
    local_aws.client("sns").publish(TopicArn=topic, Message="hello")

    # Then both calls succeed, the working subscription hears both, and the loss is recorded
    assert endpoint.state == "pendingAcceptance"
    assert [m["Message"] for m in inbox.receive(2)][1] == "hello"
    failures = local_aws.delivery_failures
    assert [(f.topic_arn, f.protocol, f.endpoint) for f in failures] == [
        (topic, "sqs", absent),
        (topic, "sqs", absent),
    ]
    assert "NonExistentQueue" in failures[0].error or "QueueDoesNotExist" in failures[0].error
