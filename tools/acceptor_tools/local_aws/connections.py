"""Endpoint connections: the link between a consumer's endpoint and a provider's service.

moto keeps endpoint services (provider account) and endpoints (consumer account) apart and knows
nothing of the connection between them. Here a `Connection` is recorded on the provider's EC2
backend when an endpoint to one of its services is created, and the endpoint itself carries the
connection's state (`VPCEndPoint.state`), so both sides read one truth: the consumer through
DescribeVpcEndpoints, the provider through DescribeVpcEndpointConnections. Records live on moto's
backends, so moto's reset forgets them with everything else.

State values are the ones AWS really returns (`pendingAcceptance`, `available`, ...), not the
PascalCase enum of the botocore model.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acceptor_tools.local_aws import moto_internals as moto

CONNECTIONS_ATTR = "privatelink_connections"  # on a provider EC2 backend: endpoint ID -> record
ENDPOINT_ATTR = "privatelink_connection"  # on a consumer VPCEndPoint: its record

SERVICE_NAME = re.compile(
    r"^com\.amazonaws\.vpce\.(?P<region>[a-z0-9-]+)\.(?P<service_id>vpce-svc-[0-9a-f]+)$"
)

PENDING_ACCEPTANCE = "pendingAcceptance"
PENDING = "pending"
AVAILABLE = "available"
REJECTED = "rejected"
DELETED = "deleted"

MIN_RESULTS = 5
MAX_RESULTS = 1000


@dataclass(frozen=True)
class Transition:
    """What an action may do: the states it starts from and the state it leaves."""

    event: str
    origins: frozenset[str]
    target: str


# Accept only what waits for a decision (`settle` then takes it from pending to available);
# reject also revokes what is already connected.
TRANSITIONS: Mapping[str, Transition] = {
    "accept": Transition("Accept", frozenset({PENDING_ACCEPTANCE}), PENDING),
    "reject": Transition("Reject", frozenset({PENDING_ACCEPTANCE, PENDING, AVAILABLE}), REJECTED),
}


@dataclass
class Connection:
    """One endpoint's connection to one endpoint service, as the provider sees it."""

    connection_id: str
    service: Any  # moto VPCServiceConfiguration
    provider_account: str
    provider_region: str
    endpoint: Any  # moto VPCEndPoint (consumer account)
    consumer_account: str
    consumer_region: str

    @property
    def service_id(self) -> str:
        return str(self.service.id)

    @property
    def endpoint_id(self) -> str:
        return str(self.endpoint.id)

    @property
    def state(self) -> str:
        return str(self.endpoint.state)

    @state.setter
    def state(self, value: str) -> None:
        self.endpoint.state = value

    @property
    def ip_address_type(self) -> str:
        return str(getattr(self.endpoint, "ip_address_type", None) or "ipv4")

    def to_api(self) -> dict[str, Any]:
        """The `VpcEndpointConnection` shape of the botocore model."""
        return {
            "ServiceId": self.service_id,
            "VpcEndpointId": self.endpoint_id,
            "VpcEndpointOwner": self.consumer_account,
            "VpcEndpointState": self.state,
            "CreationTimestamp": self.endpoint.creation_timestamp,
            "DnsEntries": [
                {"DnsName": entry["dns_name"], "HostedZoneId": entry["hosted_zone_id"]}
                for entry in self.endpoint.dns_entries or []
            ],
            "NetworkLoadBalancerArns": list(self.service.network_load_balancer_arns),
            "GatewayLoadBalancerArns": list(self.service.gateway_load_balancer_arns),
            "IpAddressType": self.ip_address_type,
            "VpcEndpointConnectionId": self.connection_id,
            "VpcEndpointRegion": self.consumer_region,
        }


@dataclass(frozen=True)
class ServiceRef:
    """An endpoint service found by name, with the account and region that own it."""

    account: str
    region: str
    config: Any  # moto VPCServiceConfiguration


def registry(provider_backend: Any) -> dict[str, Connection]:
    """The connections to the services of one provider account and region, by endpoint ID."""
    found: dict[str, Connection] | None = getattr(provider_backend, CONNECTIONS_ATTR, None)
    if found is None:
        found = {}
        setattr(provider_backend, CONNECTIONS_ATTR, found)
    return found


def connection_of(endpoint: Any) -> Connection | None:
    found: Connection | None = getattr(endpoint, ENDPOINT_ATTR, None)
    return found


def is_endpoint_service_name(service_name: str) -> bool:
    return SERVICE_NAME.match(service_name) is not None


def resolve_service(service_name: str, consumer_account: str, consumer_region: str) -> ServiceRef:
    """The service an endpoint asks for, or InvalidServiceName as AWS answers when the service
    does not exist, does not serve the consumer's region, or does not allow the consumer."""
    match = SERVICE_NAME.match(service_name)
    if match is None:
        raise moto.invalid_service_name(service_name)
    ref = find_service(match["service_id"], match["region"])
    if ref is None or ref.config.service_name != service_name:
        raise moto.invalid_service_name(service_name)
    serves_region = consumer_region == ref.region or consumer_region in _supported_regions(ref)
    if not serves_region or not allows(ref, consumer_account):
        raise moto.invalid_service_name(service_name)
    return ref


def find_service(service_id: str, region: str) -> ServiceRef | None:
    for account, backend_region, backend in moto.existing_ec2_backends():
        if backend_region != region:
            continue
        config = backend.configurations.get(service_id)
        if config is not None:
            return ServiceRef(account=account, region=region, config=config)
    return None


def allows(ref: ServiceRef, consumer_account: str) -> bool:
    """AWS's allowed principals: `*`, or any principal ARN of the consumer's account."""
    if consumer_account == ref.account:
        return True
    for principal in ref.config.principals:
        if principal == "*":
            return True
        parts = str(principal).split(":")
        if len(parts) >= 5 and parts[0] == "arn" and parts[4] == consumer_account:
            return True
    return False


def connect(
    ref: ServiceRef, endpoint: Any, consumer_account: str, consumer_region: str
) -> Connection:
    """Record a new endpoint's connection; it waits for acceptance if the service asks for it."""
    connection = Connection(
        connection_id=f"vpce-con-{moto.random_hex(17)}",
        service=ref.config,
        provider_account=ref.account,
        provider_region=ref.region,
        endpoint=endpoint,
        consumer_account=consumer_account,
        consumer_region=consumer_region,
    )
    connection.state = PENDING_ACCEPTANCE if ref.config.acceptance_required else AVAILABLE
    registry(moto.ec2_backend(ref.account, ref.region))[connection.endpoint_id] = connection
    setattr(endpoint, ENDPOINT_ATTR, connection)
    return connection


@dataclass(frozen=True)
class Decision:
    changed: tuple[Connection, ...]
    unsuccessful: tuple[dict[str, Any], ...]


def decide(
    provider_backend: Any,
    service_id: str,
    endpoint_ids: Sequence[str],
    action: str,
    settle: Callable[[Connection], None],
) -> Decision:
    """Accept or reject connections of one service; every endpoint that cannot move is reported
    in `Unsuccessful` (botocore's `UnsuccessfulItem`), the others move. A service the caller does
    not own fails the whole call, as AWS does."""
    if service_id not in provider_backend.configurations:
        raise moto.unknown_endpoint_service(service_id)
    transition = TRANSITIONS[action]
    connections = registry(provider_backend)
    changed: list[Connection] = []
    unsuccessful: list[dict[str, Any]] = []
    for endpoint_id in dict.fromkeys(endpoint_ids):
        connection = connections.get(endpoint_id)
        if connection is None or connection.service_id != service_id:
            unsuccessful.append(
                _unsuccessful(
                    endpoint_id,
                    "InvalidVpcEndpointId.NotFound",
                    f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
                )
            )
        elif connection.state not in transition.origins:
            unsuccessful.append(
                _unsuccessful(
                    endpoint_id,
                    "InvalidState",
                    f"Vpc Endpoint '{endpoint_id}' is in state '{connection.state}'; "
                    f"it can be {action}ed only from: {', '.join(sorted(transition.origins))}",
                )
            )
        else:
            connection.state = transition.target
            if action == "accept":
                settle(connection)
            changed.append(connection)
    return Decision(changed=tuple(changed), unsuccessful=tuple(unsuccessful))


def _unsuccessful(resource_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


# DescribeVpcEndpointConnections


def _cross_region(connection: Connection) -> bool:
    return connection.consumer_region != connection.provider_region


# filter name -> the values of a connection it compares (any value listed in the filter matches)
FILTERS: Mapping[str, Callable[[Connection], Iterable[str]]] = {
    "service-id": lambda c: [c.service_id],
    "vpc-endpoint-id": lambda c: [c.endpoint_id],
    "vpc-endpoint-owner": lambda c: [c.consumer_account],
    "vpc-endpoint-state": lambda c: [c.state],
    "vpc-endpoint-region": lambda c: (
        [c.consumer_region] + (["cross-region"] if _cross_region(c) else [])
    ),
    "ip-address-type": lambda c: [c.ip_address_type],
}


# How the local AWS refuses a filter it was told to refuse (`ExtensionState.refused_filters`):
# the code other tools met for `vpc-endpoint-id` on DescribeVpcEndpointConnections.
REFUSED_FILTER_CODE = "InvalidFilter"


def describe(
    provider_backend: Any,
    filters: Mapping[str, Sequence[str]],
    max_results: int | None,
    next_token: str | None,
    refused: Collection[str] = frozenset(),
) -> tuple[list[Connection], str | None]:
    """A page of the connections to the caller's own services, oldest first. A filter named in
    `refused` fails the call, as real AWS may for `vpc-endpoint-id` (docs/local-aws.md)."""
    for name in filters:
        if name not in FILTERS:
            raise moto.service_error("InvalidParameterValue", f"The filter '{name}' is invalid")
        if name in refused:
            raise moto.service_error(
                REFUSED_FILTER_CODE, f"The filter '{name}' is not supported for this operation"
            )
    limit = _page_size(max_results)
    owned = set(provider_backend.configurations)
    matching = [
        connection
        for connection in sorted(
            registry(provider_backend).values(),
            key=lambda c: (c.endpoint.creation_timestamp, c.endpoint_id),
        )
        if connection.service_id in owned
        and all(set(FILTERS[name](connection)) & set(values) for name, values in filters.items())
    ]
    start = _token_start(next_token, matching) if next_token else 0
    page = matching[start : start + limit]
    following = start + limit
    token = _token_for(matching[following].endpoint_id) if following < len(matching) else None
    return page, token


def _page_size(max_results: int | None) -> int:
    if max_results is None:
        return MAX_RESULTS
    if max_results < MIN_RESULTS:
        raise moto.service_error(
            "InvalidParameterValue",
            f"Value ( {max_results} ) for parameter maxResults is invalid. "
            f"Expecting a value greater than {MIN_RESULTS}.",
        )
    return min(max_results, MAX_RESULTS)


def _token_for(endpoint_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"from": endpoint_id}).encode()).decode()


def _token_start(token: str, matching: Sequence[Connection]) -> int:
    try:
        endpoint_id = json.loads(base64.urlsafe_b64decode(token.encode()))["from"]
    except (binascii.Error, ValueError, KeyError, TypeError) as err:
        raise moto.invalid_next_token(token) from err
    for index, connection in enumerate(matching):
        if connection.endpoint_id == endpoint_id:
            return index
    raise moto.invalid_next_token(token)


def _supported_regions(ref: ServiceRef) -> list[str]:
    return moto.service_supported_regions(ref.config)
