"""The EC2 actions the extension adds to moto, as methods of moto's `EC2Response`.

moto dispatches a query action to the response method of the same name in snake_case and
serializes what it returns with the operation's botocore output shape, so each method here
reads its parameters, calls the connection or notification logic, and returns plain dicts in
botocore's shapes. `self` is moto's response object (the caller's account is
`self.current_account`, its region `self.region`, its EC2 backend `self.ec2_backend`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acceptor_tools.local_aws import connections, notifications
from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.state import extension_state


def describe_vpc_endpoint_connections(self: Any) -> Any:
    self.error_on_dryrun()
    page, token = connections.describe(
        self.ec2_backend,
        filters=self._filters_from_querystring(),
        max_results=self._get_int_param("MaxResults"),
        next_token=self._get_param("NextToken"),
        refused=extension_state().refused_filters,
    )
    result: dict[str, Any] = {"VpcEndpointConnections": [c.to_api() for c in page]}
    if token:
        result["NextToken"] = token
    return moto.action_result(result)


def accept_vpc_endpoint_connections(self: Any) -> Any:
    return _decide(self, "accept")


def reject_vpc_endpoint_connections(self: Any) -> Any:
    return _decide(self, "reject")


def _decide(self: Any, action: str) -> Any:
    self.error_on_dryrun()
    state = extension_state()
    with state.lock:
        decision = connections.decide(
            self.ec2_backend,
            service_id=self._get_param("ServiceId"),
            endpoint_ids=self._get_param("VpcEndpointIds", []),
            action=action,
            settle=state.settle,
        )
        for connection in decision.changed:
            notifications.publish(
                connection, connections.TRANSITIONS[action].event, state.notifications
            )
    return moto.action_result({"Unsuccessful": list(decision.unsuccessful)})


def create_vpc_endpoint_connection_notification(self: Any) -> Any:
    self.error_on_dryrun()
    with extension_state().lock:
        notification = notifications.create(
            self.ec2_backend,
            topic_arn=self._get_param("ConnectionNotificationArn"),
            events=self._get_param("ConnectionEvents", []),
            service_id=self._get_param("ServiceId"),
            endpoint_id=self._get_param("VpcEndpointId"),
            client_token=self._get_param("ClientToken"),
        )
    result: dict[str, Any] = {"ConnectionNotification": notification.to_api()}
    if notification.client_token:
        result["ClientToken"] = notification.client_token
    return moto.action_result(result)


def describe_vpc_endpoint_connection_notifications(self: Any) -> Any:
    self.error_on_dryrun()
    page, token = notifications.describe(
        self.ec2_backend,
        notification_id=self._get_param("ConnectionNotificationId"),
        filters=self._filters_from_querystring(),
        max_results=self._get_int_param("MaxResults"),
        next_token=self._get_param("NextToken"),
    )
    result: dict[str, Any] = {"ConnectionNotificationSet": [n.to_api() for n in page]}
    if token:
        result["NextToken"] = token
    return moto.action_result(result)


def modify_vpc_endpoint_connection_notification(self: Any) -> Any:
    self.error_on_dryrun()
    with extension_state().lock:
        notifications.modify(
            self.ec2_backend,
            notification_id=self._get_param("ConnectionNotificationId"),
            topic_arn=self._get_param("ConnectionNotificationArn"),
            events=self._get_param("ConnectionEvents", []),
        )
    return moto.action_result({"ReturnValue": True})


def delete_vpc_endpoint_connection_notifications(self: Any) -> Any:
    self.error_on_dryrun()
    with extension_state().lock:
        unsuccessful = notifications.delete(
            self.ec2_backend, self._get_param("ConnectionNotificationIds", [])
        )
    return moto.action_result({"Unsuccessful": unsuccessful})


# action method name -> implementation, added to EC2Response by `extension.install()`
ACTIONS: dict[str, Callable[[Any], Any]] = {
    "describe_vpc_endpoint_connections": describe_vpc_endpoint_connections,
    "accept_vpc_endpoint_connections": accept_vpc_endpoint_connections,
    "reject_vpc_endpoint_connections": reject_vpc_endpoint_connections,
    "create_vpc_endpoint_connection_notification": create_vpc_endpoint_connection_notification,
    "describe_vpc_endpoint_connection_notifications": (
        describe_vpc_endpoint_connection_notifications
    ),
    "modify_vpc_endpoint_connection_notification": modify_vpc_endpoint_connection_notification,
    "delete_vpc_endpoint_connection_notifications": delete_vpc_endpoint_connection_notifications,
}
