"""The PrivateLink extension of moto, applied by one idempotent `install()`.

What it changes (all through `moto_internals`, whose names are tested one by one):
- `VPCBackend.create_vpc_endpoint`: an endpoint to a `com.amazonaws.vpce.…` service must name an
  existing service that serves the consumer's region and allows the consumer's account (else
  `InvalidServiceName`, as in AWS); an interface endpoint without groups gets the VPC's default
  group (as in AWS); it starts `pendingAcceptance` when the service requires acceptance,
  `available` otherwise; a connection is recorded and `Connect` is notified.
- `VPCBackend.delete_vpc_endpoints`: the connection becomes `deleted` and `Delete` is notified.
- `EC2Response.create_vpc_endpoint`: keeps the `IpAddressType` the consumer asked for.
- `EC2Response` gains the actions of `api.ACTIONS` (connections and connection notifications).
- `BaseResponse.call_action`: the fault injector may answer instead of the service.

Nothing happens at import; `install()` works for the in-process mock and for a moto server
running in this process alike, because both dispatch through the same classes.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from acceptor_tools.local_aws import api, connections, notifications
from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.faults import error_reply
from acceptor_tools.local_aws.state import DeliveryFailure, ExtensionState, extension_state

PATCH_MARK = "__privatelink_extension__"
_install_lock = threading.Lock()


def install() -> ExtensionState:
    """Apply the extension once per process (later calls do nothing); returns its settings."""
    with _install_lock:
        if is_installed():
            return extension_state()
        version = moto.moto_version()
        if version != moto.MOTO_VERSION:
            raise RuntimeError(
                f"the PrivateLink extension is written for moto {moto.MOTO_VERSION}, found "
                f"{version}: run tests/integration/local_aws/test_local_aws_moto_internals.py, "
                "adapt moto_internals.py, then update MOTO_VERSION"
            )
        response_class = moto.ec2_response_class()
        for name, action in api.ACTIONS.items():
            if hasattr(response_class, name):
                raise RuntimeError(f"moto now implements EC2Response.{name}: review the extension")
            setattr(response_class, name, _marked(action))
        _wrap(response_class, "create_vpc_endpoint", _response_create_vpc_endpoint)
        backend_class = moto.vpc_backend_class()
        _wrap(backend_class, "create_vpc_endpoint", _backend_create_vpc_endpoint)
        _wrap(backend_class, "delete_vpc_endpoints", _backend_delete_vpc_endpoints)
        _wrap(moto.base_response_class(), "call_action", _call_action_with_faults)
        _wrap(moto.sns_subscription_class(), "publish", _deliver_without_failing_the_caller)
        return extension_state()


def is_installed() -> bool:
    return bool(getattr(moto.base_response_class().call_action, PATCH_MARK, False))


def _marked(function: Callable[..., Any]) -> Callable[..., Any]:
    setattr(function, PATCH_MARK, True)
    return function


def _wrap(
    owner: Any,
    name: str,
    replacement: Callable[..., Any],
) -> None:
    """Replace owner.name by `replacement(original, self, *args, **kwargs)`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        return replacement(original, self, *args, **kwargs)

    setattr(owner, name, _marked(patched))


def _response_create_vpc_endpoint(original: Callable[..., Any], self: Any) -> Any:
    result = original(self)
    ip_address_type = self._get_param("IpAddressType")
    if ip_address_type:
        result.result["VpcEndpoint"].ip_address_type = ip_address_type
    return result


def _backend_create_vpc_endpoint(
    original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any
) -> Any:
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    service_name = str(bound.arguments["service_name"])
    if not connections.is_endpoint_service_name(service_name):
        return original(self, *args, **kwargs)
    state = extension_state()
    with state.lock:
        ref = connections.resolve_service(service_name, self.account_id, self.region_name)
        endpoint_type = str(bound.arguments.get("endpoint_type") or "").lower()
        if endpoint_type == "interface" and not bound.arguments.get("security_group_ids"):
            # AWS attaches the VPC's default group to an interface endpoint created without one
            vpc_id = str(bound.arguments["vpc_id"])
            bound.arguments["security_group_ids"] = [moto.default_security_group_id(self, vpc_id)]
        endpoint = original(*bound.args, **bound.kwargs)
        connection = connections.connect(ref, endpoint, self.account_id, self.region_name)
        notifications.publish(connection, "Connect", state.notifications)
    return endpoint


def _backend_delete_vpc_endpoints(
    original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any
) -> Any:
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    endpoint_ids = bound.arguments.get("vpce_ids") or []
    state = extension_state()
    with state.lock:
        leaving = [
            connection
            for endpoint_id in endpoint_ids
            if (endpoint := self.vpc_end_points.get(endpoint_id)) is not None
            and (connection := connections.connection_of(endpoint)) is not None
            and connection.state != connections.DELETED
        ]
        result = original(self, *args, **kwargs)
        for connection in leaving:
            connection.state = connections.DELETED
            notifications.publish(connection, "Delete", state.notifications)
    return result


def _deliver_without_failing_the_caller(
    original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any
) -> None:
    """SNS delivers after the API call that caused the message has succeeded, to each
    subscription on its own: a queue deleted since, or an endpoint that refuses, loses that
    one delivery (AWS retries it by its delivery policy, then drops it). moto delivers inside
    the call instead, so a broken subscription would fail a Publish, or a CreateVpcEndpoint
    whose connection notification goes through SNS, and starve the other subscriptions. The
    failure is kept in `extension_state().delivery_failures` (docs/local-aws.md)."""
    try:
        original(self, *args, **kwargs)
    except moto.delivery_errors() as err:
        failure = DeliveryFailure(
            topic_arn=str(self.topic.arn),
            protocol=str(self.protocol),
            endpoint=str(self.endpoint),
            error=f"{type(err).__name__}: {err}",
        )
        extension_state().delivery_failures.append(failure)


def _call_action_with_faults(original: Callable[..., Any], self: Any) -> Any:
    injector = extension_state().faults
    if injector.enabled:
        rule = injector.draw(str(self.service_name), str(self._get_action()))
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.delay_seconds)
        elif rule is not None:
            if rule.kind == "applied_then_5xx":
                original(self)  # the change is made; only its answer is lost
            reply = error_reply(rule.kind, str(self.service_name))
            error = moto.generic_service_exception(reply.code, reply.message)
            with warnings.catch_warnings():
                # moto warns when a code is not among the service's modeled errors; throttling
                # and server errors rarely are, and AWS sends them all the same.
                warnings.simplefilter("ignore", UserWarning)
                _, headers, body = self.serialized(moto.action_result(error))
            headers["status"] = str(reply.status)
            return reply.status, headers, body
    return original(self)
