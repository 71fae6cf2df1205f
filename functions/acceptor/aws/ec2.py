"""The provider's side of EC2: connections to our endpoint services, accept and reject."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acceptor.aws.errors import translate
from acceptor.decision.actions import Act, ItemFailure
from acceptor.decision.connection import Connection

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PAGE_SIZE = 1000  # DescribeVpcEndpointConnections' maximum MaxResults
# IDs per `vpc-endpoint-id` filter: EC2 filters commonly take up to 200 values.
FILTER_IDS = 200

# How AWS refuses the `vpc-endpoint-id` filter of DescribeVpcEndpointConnections: the botocore
# model lists it, yet other tools have met `InvalidFilter` (docs/events.md).
FILTER_REFUSED = frozenset({"InvalidFilter", "InvalidParameterValue"})

ACTIONS: dict[Act, str] = {
    "accept": "AcceptVpcEndpointConnections",
    "reject": "RejectVpcEndpointConnections",
}


class ProviderEc2:
    def __init__(self, client: EC2Client, region: str) -> None:
        self._client = client
        self.region = region
        self.endpoint_filter_refused = False

    def connections(
        self, service_id: str | None, endpoint_ids: Sequence[str]
    ) -> dict[str, Connection]:
        """Re-read connections by endpoint ID; one AWS no longer shows is absent from the result.

        `service_id` None reads the connections of every service this account owns."""
        return self.find(endpoint_ids, None if service_id is None else [service_id])

    def find(
        self, endpoint_ids: Sequence[str], service_ids: Collection[str] | None
    ) -> dict[str, Connection]:
        """These endpoints' connections to any of `service_ids` (None: any service of this
        account). Filters by `vpc-endpoint-id` while AWS takes it; once AWS refuses that filter
        (`InvalidFilter`, `InvalidParameterValue`: docs/events.md, "Re-reading a
        connection"), lists the services' connections by `service-id`, page by page, and
        matches the endpoint IDs in code, for the rest of this adapter's life."""
        wanted = sorted(set(endpoint_ids))
        services = sorted(set(service_ids)) if service_ids is not None else None
        if not wanted or services == []:
            return {}
        # (the service-id filter of each call): every FILTER_IDS services, or none for all
        by_service: list[list[tuple[str, list[str]]]] = (
            [[("service-id", chunk)] for chunk in _chunks(services)] if services else [[]]
        )
        found: dict[str, Connection] = {}
        if not self.endpoint_filter_refused:
            try:
                for service_filter in by_service:
                    for chunk in _chunks(wanted):
                        filters = [("vpc-endpoint-id", chunk), *service_filter]
                        found.update((c.endpoint_id, c) for c in self._read(filters))
                return found
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in FILTER_REFUSED:
                    raise translate(err, "DescribeVpcEndpointConnections") from err
                self.endpoint_filter_refused = True
        chosen = set(wanted)
        try:
            return {
                c.endpoint_id: c
                for service_filter in by_service
                for c in self._read(service_filter)
                if c.endpoint_id in chosen
            }
        except ClientError as err:
            raise translate(err, "DescribeVpcEndpointConnections") from err

    def list_connections(self, service_id: str, state: str) -> Iterator[Connection]:
        return self._describe([("service-id", [service_id]), ("vpc-endpoint-state", [state])])

    def owned_services(self) -> list[str]:
        """Every endpoint service of this account that requires acceptance."""
        paginator = self._client.get_paginator("describe_vpc_endpoint_service_configurations")
        try:
            return [
                service["ServiceId"]
                for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE})
                for service in page.get("ServiceConfigurations", [])
                if service.get("AcceptanceRequired") and "ServiceId" in service
            ]
        except ClientError as err:
            raise translate(err, "DescribeVpcEndpointServiceConfigurations") from err

    def act(self, act: Act, service_id: str, endpoint_ids: Sequence[str]) -> dict[str, ItemFailure]:
        """Accept or reject in one call; returns the per-item failures (`Unsuccessful`)."""
        request: dict[str, Any] = {"ServiceId": service_id, "VpcEndpointIds": list(endpoint_ids)}
        try:
            if act == "accept":
                response: Mapping[str, Any] = self._client.accept_vpc_endpoint_connections(
                    **request
                )
            else:
                response = self._client.reject_vpc_endpoint_connections(**request)
        except ClientError as err:
            raise translate(err, ACTIONS[act]) from err
        return failures_of(response.get("Unsuccessful", []))

    def _describe(self, filters: list[tuple[str, list[str]]]) -> Iterator[Connection]:
        try:
            yield from self._read(filters)
        except ClientError as err:
            raise translate(err, "DescribeVpcEndpointConnections") from err

    def _read(self, filters: list[tuple[str, list[str]]]) -> Iterator[Connection]:
        """Every page; AWS's `ClientError` propagates untranslated (the caller may act on it)."""
        paginator = self._client.get_paginator("describe_vpc_endpoint_connections")
        pages = paginator.paginate(
            Filters=[{"Name": name, "Values": values} for name, values in filters],
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
        for page in pages:
            for item in page.get("VpcEndpointConnections", []):
                yield connection_from_describe(item, self.region)


def connection_from_describe(item: Mapping[str, Any], home_region: str) -> Connection:
    """One `VpcEndpointConnections` item; `VpcEndpointRegion` is absent for same-region."""
    created = item["CreationTimestamp"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Connection(
        service_id=item["ServiceId"],
        endpoint_id=item["VpcEndpointId"],
        account=item["VpcEndpointOwner"],
        region=item.get("VpcEndpointRegion") or home_region,
        state=item["VpcEndpointState"],
        created_at=created.astimezone(UTC),
    )


def failures_of(unsuccessful: Iterable[Mapping[str, object]]) -> dict[str, ItemFailure]:
    """botocore's `Unsuccessful` items by endpoint ID."""
    failures: dict[str, ItemFailure] = {}
    for item in unsuccessful:
        resource = item.get("ResourceId")
        error = item.get("Error")
        if not isinstance(resource, str):
            continue
        code, message = "Unknown", ""
        if isinstance(error, Mapping):
            code = str(error.get("Code") or "Unknown")
            message = str(error.get("Message") or "")
        failures[resource] = ItemFailure(code, message)
    return failures


def _chunks(values: list[str]) -> list[list[str]]:
    """Values `FILTER_IDS` at a time: the most one EC2 filter takes."""
    return [values[start : start + FILTER_IDS] for start in range(0, len(values), FILTER_IDS)]
