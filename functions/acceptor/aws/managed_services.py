"""The provider's endpoint services (with their tags) and their connection notifications.

Reads with DescribeVpcEndpointServiceConfigurations and DescribeVpcEndpointConnectionNotifications
(both paginated by botocore); writes with Create/Modify/DeleteVpcEndpointConnectionNotification(s).
Throttling is botocore's business (standard retry mode, `aws/clients.py`); what is still
throttled after its retries comes out as `Throttled`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acceptor.aws.errors import AwsError, translate
from acceptor.managed import EVENTS, EndpointService, Notification

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PAGE_SIZE = 1000  # the maximum MaxResults of both describe calls


class EndpointServices:
    def __init__(self, client: EC2Client) -> None:
        self._client = client

    def services(self) -> list[EndpointService]:
        """Every endpoint service of this account and region, with its tags."""
        paginator = self._client.get_paginator("describe_vpc_endpoint_service_configurations")
        try:
            return [
                _service(item)
                for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE})
                for item in page.get("ServiceConfigurations", [])
                if "ServiceId" in item
            ]
        except ClientError as err:
            raise translate(err, "DescribeVpcEndpointServiceConfigurations") from err

    def notifications(self) -> list[Notification]:
        """The account's service notifications (endpoint notifications are the consumers')."""
        paginator = self._client.get_paginator("describe_vpc_endpoint_connection_notifications")
        try:
            return [
                Notification(
                    notification_id=item["ConnectionNotificationId"],
                    service_id=item["ServiceId"],
                    topic_arn=item.get("ConnectionNotificationArn", ""),
                    events=tuple(item.get("ConnectionEvents", [])),
                )
                for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE})
                for item in page.get("ConnectionNotificationSet", [])
                if item.get("ServiceId") and "ConnectionNotificationId" in item
            ]
        except ClientError as err:
            raise translate(err, "DescribeVpcEndpointConnectionNotifications") from err

    def create(self, service_id: str, topic_arn: str) -> str:
        """A notification of every event to the topic. The client token is derived from the
        service and the topic, so a retry after a lost response creates nothing twice."""
        token = hashlib.sha256(f"{service_id} {topic_arn}".encode()).hexdigest()[:64]
        try:
            response = self._client.create_vpc_endpoint_connection_notification(
                ServiceId=service_id,
                ConnectionNotificationArn=topic_arn,
                ConnectionEvents=list(EVENTS),
                ClientToken=token,
            )
        except ClientError as err:
            raise translate(err, "CreateVpcEndpointConnectionNotification") from err
        return str(response.get("ConnectionNotification", {}).get("ConnectionNotificationId", ""))

    def repair(self, notification_id: str, topic_arn: str) -> None:
        try:
            self._client.modify_vpc_endpoint_connection_notification(
                ConnectionNotificationId=notification_id,
                ConnectionNotificationArn=topic_arn,
                ConnectionEvents=list(EVENTS),
            )
        except ClientError as err:
            raise translate(err, "ModifyVpcEndpointConnectionNotification") from err

    def remove(self, notification_ids: Sequence[str]) -> dict[str, AwsError]:
        """Deletes them; the per-item failures come back by notification ID (one already gone
        is not a failure)."""
        if not notification_ids:
            return {}
        try:
            response: Any = self._client.delete_vpc_endpoint_connection_notifications(
                ConnectionNotificationIds=list(notification_ids)
            )
        except ClientError as err:
            raise translate(err, "DeleteVpcEndpointConnectionNotifications") from err
        failures: dict[str, AwsError] = {}
        for item in response.get("Unsuccessful", []):
            error = item.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            if code in GONE:
                continue
            resource = str(item.get("ResourceId", ""))
            failures[resource] = AwsError(
                "DeleteVpcEndpointConnectionNotifications",
                code,
                f"{resource}: {error.get('Message', '')}",
            )
        return failures


# Already deleted (by a person, or by a first try whose response was lost).
GONE = frozenset({"InvalidConnectionNotification", "InvalidConnectionNotification.NotFound"})


def _service(item: Any) -> EndpointService:
    return EndpointService(
        service_id=item["ServiceId"],
        tags={t["Key"]: t.get("Value", "") for t in item.get("Tags", []) if "Key" in t},
        acceptance_required=bool(item.get("AcceptanceRequired", True)),
    )
