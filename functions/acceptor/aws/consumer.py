"""Facts from the consumer's account, through the consumer role (assumed with an ExternalId).

The provider never sees the consumer VPC or the endpoint's tags; with the optional read role
deployed in the consumer account we read them with DescribeVpcEndpoints and DescribeVpcs. A role
that is not configured, missing or denied leaves those facts unknown, with the reason.

A `ConsumerReader` keeps facts, not clients (docs/architecture.md, "Memory"): each lookup builds
the account's EC2 client from cached credentials, makes its calls, closes it and drops it. What
it learnt (the endpoints' facts, or why the role is unavailable) stays in a `FactsCache`, bounded
in size and age, for the life of the reader (one invocation).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acceptor.aws.clients import AwsClients
from acceptor.aws.errors import AwsError, NotFound, translate
from acceptor.decision.gather import NO_CONSUMER_ROLE, ConsumerFacts

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

SESSION_NAME = "privatelink-acceptor"
IDS_PER_CALL = 200
ASSOCIATED = "associated"
# Facts are re-read after FACTS_TTL_SECONDS even within one long invocation, and at most
# MAX_FACTS of them are kept (least recently used dropped first): about 1 KB each.
FACTS_TTL_SECONDS = 60.0
MAX_FACTS = 20_000


class ConsumerRoleUnavailable(Exception):
    """The consumer role is not configured, or could not be assumed; `reason` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or () if "Key" in t}


def vpc_cidrs(vpc: Mapping[str, Any]) -> tuple[str, ...]:
    """The VPC's associated IPv4 and IPv6 blocks (a block being disassociated no longer counts)."""
    ipv4 = [
        a["CidrBlock"]
        for a in vpc.get("CidrBlockAssociationSet", [])
        if a.get("CidrBlockState", {}).get("State", ASSOCIATED) == ASSOCIATED and "CidrBlock" in a
    ]
    if not ipv4 and vpc.get("CidrBlock"):
        ipv4 = [vpc["CidrBlock"]]
    ipv6 = [
        a["Ipv6CidrBlock"]
        for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
        if a.get("Ipv6CidrBlockState", {}).get("State", ASSOCIATED) == ASSOCIATED
        and "Ipv6CidrBlock" in a
    ]
    return tuple(dict.fromkeys([*ipv4, *ipv6]))


class FactsCache:
    """Values by key, each kept `ttl_seconds` at most, `max_entries` at most in all (least
    recently used dropped first). Thread-safe: Decide looks accounts up in parallel."""

    def __init__(
        self,
        *,
        ttl_seconds: float = FACTS_TTL_SECONDS,
        max_entries: int = MAX_FACTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple[str, str], value: Any) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# Key of an account's unavailable role in the cache (endpoint IDs never start with "role:").
_ROLE = "role:"


class ConsumerReader:
    def __init__(
        self,
        clients: AwsClients,
        role_name: str | None,
        external_id: str | None,
        *,
        session_name: str = SESSION_NAME,
        cache: FactsCache | None = None,
    ) -> None:
        self._clients = clients
        self._role_name = role_name
        self._external_id = external_id
        self._session_name = session_name
        self._cache = cache if cache is not None else FactsCache()

    @property
    def configured(self) -> bool:
        return bool(self._role_name)

    def session(self, account: str) -> AwsClients:
        """New clients acting as the consumer role in `account`, for one lookup: the caller
        closes and drops them (only the credentials are cached, by `AwsClients`).

        Raises `ConsumerRoleUnavailable` when the role is not configured or not assumable
        (remembered for the account), and the translated `AwsError` when STS is throttled or
        unavailable (worth a retry).
        """
        unavailable = self._cache.get((account, _ROLE))
        if isinstance(unavailable, ConsumerRoleUnavailable):
            raise unavailable
        assumed = self._assume(account)
        if isinstance(assumed, ConsumerRoleUnavailable):
            self._cache.put((account, _ROLE), assumed)
            raise assumed
        return assumed

    def facts(
        self, account: str, region: str, endpoint_ids: Sequence[str]
    ) -> dict[str, ConsumerFacts]:
        """Facts of these endpoints of one consumer account and region, in as few calls as AWS
        allows: one DescribeVpcEndpoints and one DescribeVpcs per 200 endpoints."""
        found: dict[str, ConsumerFacts] = {}
        missing: list[str] = []
        for endpoint_id in dict.fromkeys(endpoint_ids):
            cached = self._cache.get((account, endpoint_id))
            if isinstance(cached, ConsumerFacts):
                found[endpoint_id] = cached
            else:
                missing.append(endpoint_id)
        if missing:
            read = self._read(account, region, missing)
            for endpoint_id, facts in read.items():
                self._cache.put((account, endpoint_id), facts)
            found.update(read)
        return {e: found[e] for e in endpoint_ids}

    def _assume(self, account: str) -> AwsClients | ConsumerRoleUnavailable:
        if not self._role_name:
            return ConsumerRoleUnavailable(NO_CONSUMER_ROLE)
        arn = role_arn(self._clients.partition, account, self._role_name)
        try:
            return self._clients.assume_role(
                arn, session_name=self._session_name, external_id=self._external_id
            )
        except ClientError as err:
            error = translate(err, "AssumeRole")
            if error.retryable:
                raise error from err
            return ConsumerRoleUnavailable(
                f"consumer role {arn} could not be assumed ({error.code})"
            )

    def _read(self, account: str, region: str, endpoint_ids: list[str]) -> dict[str, ConsumerFacts]:
        try:
            consumer = self.session(account)
        except ConsumerRoleUnavailable as unavailable:
            return {e: ConsumerFacts.unknown(unavailable.reason) for e in endpoint_ids}
        try:
            ec2 = consumer.ec2(region)
            endpoints = _describe(ec2, "describe_vpc_endpoints", endpoint_ids)
            vpc_ids = sorted({e["VpcId"] for e in endpoints if e.get("VpcId")})
            vpcs = _describe(ec2, "describe_vpcs", vpc_ids) if vpc_ids else []
        except AwsError as error:
            if error.retryable:
                raise
            reason = f"the consumer role in {account} could not read it ({error.code})"
            return {e: ConsumerFacts.unknown(reason) for e in endpoint_ids}
        finally:
            consumer.close()
        by_endpoint = {e["VpcEndpointId"]: e for e in endpoints}
        by_vpc = {v["VpcId"]: v for v in vpcs}
        facts: dict[str, ConsumerFacts] = {}
        for endpoint_id in endpoint_ids:
            endpoint = by_endpoint.get(endpoint_id)
            if endpoint is None:
                facts[endpoint_id] = ConsumerFacts.unknown(
                    f"the endpoint is not visible through the consumer role in {account}"
                )
                continue
            vpc = by_vpc.get(endpoint.get("VpcId", ""))
            facts[endpoint_id] = ConsumerFacts(
                vpc_id=endpoint.get("VpcId"),
                tags=tag_map(endpoint.get("Tags")),
                vpc_tags=tag_map(vpc.get("Tags")) if vpc is not None else None,
                vpc_cidrs=vpc_cidrs(vpc) if vpc is not None else None,
                reason="" if vpc is not None else "the endpoint's VPC is not visible",
            )
        return facts


# operation → (ID parameter, result key): describing by ID, so a lookup costs one call per
# 200 IDs; an ID that no longer exists fails the whole call, and then each ID is asked alone.
DESCRIBES: dict[str, tuple[str, str]] = {
    "describe_vpc_endpoints": ("VpcEndpointIds", "VpcEndpoints"),
    "describe_vpcs": ("VpcIds", "Vpcs"),
}


def _describe(ec2: EC2Client, operation: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), IDS_PER_CALL):
        chunk = list(ids[start : start + IDS_PER_CALL])
        try:
            found.extend(_call(ec2, operation, chunk))
        except NotFound:
            for one in chunk:
                try:
                    found.extend(_call(ec2, operation, [one]))
                except NotFound:
                    continue
    return found


def _call(ec2: EC2Client, operation: str, ids: list[str]) -> list[dict[str, Any]]:
    parameter, result_key = DESCRIBES[operation]
    action = "".join(part.capitalize() for part in operation.split("_"))
    try:
        response = getattr(ec2, operation)(**{parameter: ids})
    except ClientError as err:
        raise translate(err, action) from err
    items: list[dict[str, Any]] = response.get(result_key, [])
    return items
