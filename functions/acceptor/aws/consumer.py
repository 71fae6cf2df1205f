"""Facts from the consumer's account, through the consumer role (assumed with an ExternalId).

The provider never sees the consumer VPC or the endpoint's tags; with the optional read role
deployed in the consumer account we read them with DescribeVpcEndpoints and DescribeVpcs. A role
that is not configured, missing or denied leaves those facts unknown, with the reason. Sessions
and facts are cached per account for the life of one `ConsumerReader` (one invocation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


class ConsumerReader:
    def __init__(
        self,
        clients: AwsClients,
        role_name: str | None,
        external_id: str | None,
        *,
        session_name: str = SESSION_NAME,
    ) -> None:
        self._clients = clients
        self._role_name = role_name
        self._external_id = external_id
        self._session_name = session_name
        self._sessions: dict[str, AwsClients | ConsumerRoleUnavailable] = {}
        self._facts: dict[tuple[str, str], ConsumerFacts] = {}

    @property
    def configured(self) -> bool:
        return bool(self._role_name)

    def session(self, account: str) -> AwsClients:
        """Clients acting as the consumer role in `account` (assumed once per account).

        Raises `ConsumerRoleUnavailable` when the role is not configured or not assumable, and
        the translated `AwsError` when STS is throttled or unavailable (worth a retry).
        """
        cached = self._sessions.get(account)
        if cached is None:
            cached = self._sessions[account] = self._assume(account)
        if isinstance(cached, ConsumerRoleUnavailable):
            raise cached
        return cached

    def facts(
        self, account: str, region: str, endpoint_ids: Sequence[str]
    ) -> dict[str, ConsumerFacts]:
        """Facts of these endpoints of one consumer account and region, in as few calls as AWS
        allows: one DescribeVpcEndpoints and one DescribeVpcs per 200 endpoints."""
        missing = [e for e in dict.fromkeys(endpoint_ids) if (account, e) not in self._facts]
        if missing:
            self._facts.update(
                ((account, e), f) for e, f in self._read(account, region, missing).items()
            )
        return {e: self._facts[(account, e)] for e in endpoint_ids}

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
            ec2 = self.session(account).ec2(region)
        except ConsumerRoleUnavailable as unavailable:
            return {e: ConsumerFacts.unknown(unavailable.reason) for e in endpoint_ids}
        try:
            endpoints = _describe(ec2, "describe_vpc_endpoints", endpoint_ids)
            vpc_ids = sorted({e["VpcId"] for e in endpoints if e.get("VpcId")})
            vpcs = _describe(ec2, "describe_vpcs", vpc_ids) if vpc_ids else []
        except AwsError as error:
            if error.retryable:
                raise
            reason = f"the consumer role in {account} could not read it ({error.code})"
            return {e: ConsumerFacts.unknown(reason) for e in endpoint_ids}
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
