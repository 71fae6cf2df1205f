"""Security groups on AWS: reading and changing ingress rules, the consumer's endpoint and VPC,
and the service's load balancers (the record of which rules we created is
`acceptor.aws.rule_records`; the `Security Groups Updated` event goes through `acceptor.aws.bus`).

Adapters for `acceptor.security_groups.ports`. `ClientError` codes become the domain errors of
`acceptor.aws.errors` (the one table), and those the errors of `acceptor.security_groups.model`;
"already done" errors are success; any other propagates as its `AwsError` (throttling that
outlasted botocore's standard retries, an outage), so the function fails and its event is
retried or dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from botocore.exceptions import ClientError

from acceptor.aws.consumer import ConsumerReader, ConsumerRoleUnavailable
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import (
    AccessDenied,
    AlreadyGone,
    AwsError,
    Duplicate,
    LimitExceeded,
    NotFound,
    kind_of,
    translate,
)
from acceptor.security_groups.marking import rule_description, rule_tags
from acceptor.security_groups.model import (
    PROTOCOL,
    AuthorizeResult,
    ConsumerEndpoint,
    ConsumerUnavailable,
    EndpointNotFound,
    Enforcement,
    ExistingRule,
    GroupAccessDenied,
    GroupNotFound,
    LoadBalancer,
    Permission,
    RevokeResult,
    RuleLimitExceeded,
    SecurityGroupError,
)
from acceptor.security_groups.sources import normalised

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

# The security-group model's error for each kind of AWS error (acceptor.aws.errors holds the one
# table of codes), for calls that change or read one group.
ON_GROUP: dict[type[AwsError], type[SecurityGroupError]] = {
    NotFound: GroupNotFound,
    AccessDenied: GroupAccessDenied,
    LimitExceeded: RuleLimitExceeded,
}
# For reads of the consumer's endpoint and VPC: a denial there means the consumer role cannot
# tell us anything, which is the "consumer facts unknown" case, not a broken group.
ON_CONSUMER_READ: dict[type[AwsError], type[SecurityGroupError]] = {
    NotFound: EndpointNotFound,
    AccessDenied: ConsumerUnavailable,
}
ENFORCEMENT: dict[str, Enforcement] = {"on": "on", "off": "off"}


def domain_error(
    err: ClientError,
    what: str,
    kinds: Mapping[type[AwsError], type[SecurityGroupError]],
    group_id: str | None,
) -> Exception:
    """The security-group error for `err`, or the translated `AwsError` when its kind has none
    (throttling that outlasted botocore's retries, an outage: the function fails and retries)."""
    error = translate(err, what)
    kind = kinds.get(type(error))
    if kind is None:
        return error
    message = err.response.get("Error", {}).get("Message", "")
    return kind(f"{what}: {error.code}: {message}", group_id=group_id)


def _is(err: ClientError, kind: type[AwsError]) -> bool:
    return kind_of(str(err.response.get("Error", {}).get("Code", ""))) is kind


class Ec2SecurityGroups:
    """One account's and region's security groups (the provider's, or a consumer's)."""

    def __init__(self, ec2: EC2Client) -> None:
        self._ec2 = ec2

    def _writer(self, group_id: str) -> EC2Client:
        """The client that adds and removes rules (a consumer's goes through its write role)."""
        return self._ec2

    def ingress_rules(self, group_id: str) -> tuple[ExistingRule, ...]:
        rules: list[ExistingRule] = []
        try:
            pages = self._ec2.get_paginator("describe_security_group_rules").paginate(
                Filters=[{"Name": "group-id", "Values": [group_id]}]
            )
            for page in pages:
                rules.extend(
                    _existing_rule(item)
                    for item in page.get("SecurityGroupRules", [])
                    if not item.get("IsEgress", False)
                )
        except ClientError as err:
            raise domain_error(err, f"describing {group_id}", ON_GROUP, group_id) from err
        return tuple(rules)

    def interfaces_using(self, group_id: str) -> tuple[str, ...]:
        interfaces: list[str] = []
        try:
            pages = self._ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[{"Name": "group-id", "Values": [group_id]}]
            )
            for page in pages:
                interfaces.extend(
                    eni["NetworkInterfaceId"] for eni in page.get("NetworkInterfaces", [])
                )
        except ClientError as err:
            raise domain_error(err, f"listing users of {group_id}", ON_GROUP, group_id) from err
        return tuple(sorted(interfaces))

    def authorize(
        self, group_id: str, permissions: Sequence[Permission], *, endpoint_id: str, claim: str
    ) -> AuthorizeResult:
        """Add `permissions`, each a rule of its own, described and tagged for the endpoint.

        One call for all when none exists yet; when one does (a race: `Duplicate` fails the whole
        call), one call each, and the duplicates are reported, never recorded as ours.
        """
        if not permissions:
            return AuthorizeResult(created={})
        try:
            return AuthorizeResult(
                created=self._authorize(group_id, permissions, endpoint_id, claim)
            )
        except ClientError as err:
            if not _is(err, Duplicate):
                raise domain_error(err, f"adding rules to {group_id}", ON_GROUP, group_id) from err
        created: dict[Permission, str] = {}
        duplicates: list[Permission] = []
        for permission in permissions:
            try:
                created.update(self._authorize(group_id, [permission], endpoint_id, claim))
            except ClientError as err:
                if _is(err, Duplicate):
                    duplicates.append(permission)
                    continue
                raise domain_error(err, f"adding rules to {group_id}", ON_GROUP, group_id) from err
        return AuthorizeResult(created=created, duplicates=tuple(duplicates))

    def _authorize(
        self, group_id: str, permissions: Sequence[Permission], endpoint_id: str, claim: str
    ) -> dict[Permission, str]:
        description = rule_description(endpoint_id)
        by_port: dict[int, dict[str, list[dict[str, str]]]] = {}
        for permission in permissions:
            ranges = by_port.setdefault(permission.port, {"IpRanges": [], "Ipv6Ranges": []})
            if permission.ipv6:
                ranges["Ipv6Ranges"].append(
                    {"CidrIpv6": permission.cidr, "Description": description}
                )
            else:
                ranges["IpRanges"].append({"CidrIp": permission.cidr, "Description": description})
        ip_permissions: list[Any] = [
            {"IpProtocol": PROTOCOL, "FromPort": port, "ToPort": port, **ranges}
            for port, ranges in sorted(by_port.items())
        ]
        response = self._writer(group_id).authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=ip_permissions,
            TagSpecifications=[
                {
                    "ResourceType": "security-group-rule",
                    "Tags": [
                        {"Key": key, "Value": value}
                        for key, value in rule_tags(endpoint_id, claim).items()
                    ],
                }
            ],
        )
        created: dict[Permission, str] = {}
        for item in response.get("SecurityGroupRules", []):
            rule = _existing_rule(cast("Mapping[str, Any]", item))
            if rule.from_port is not None and rule.cidr is not None:
                created[Permission(rule.from_port, rule.cidr)] = rule.rule_id
        return created

    def revoke(self, group_id: str, rule_ids: Sequence[str]) -> RevokeResult:
        """Revoke exactly these rule IDs; an ID that is already gone is success."""
        if not rule_ids:
            return RevokeResult(revoked=())
        try:
            self._writer(group_id).revoke_security_group_ingress(
                GroupId=group_id, SecurityGroupRuleIds=list(rule_ids)
            )
            return RevokeResult(revoked=tuple(rule_ids))
        except ClientError as err:
            if not _is(err, AlreadyGone):
                raise domain_error(
                    err, f"removing rules of {group_id}", ON_GROUP, group_id
                ) from err
        # One unknown ID fails the whole call: find out which, one at a time.
        revoked: list[str] = []
        gone: list[str] = []
        for rule_id in rule_ids:
            try:
                self._writer(group_id).revoke_security_group_ingress(
                    GroupId=group_id, SecurityGroupRuleIds=[rule_id]
                )
                revoked.append(rule_id)
            except ClientError as err:
                if _is(err, AlreadyGone):
                    gone.append(rule_id)
                    continue
                raise domain_error(err, f"removing {rule_id}", ON_GROUP, group_id) from err
        return RevokeResult(revoked=tuple(revoked), already_gone=tuple(gone))


class ConsumerSecurityGroups(Ec2SecurityGroups):
    """A consumer account's EC2: its endpoint, VPC and groups read through the read role, rules
    added and removed through the write role (`write_ec2`, assumed at the first change; None
    when the acceptor knows of no write role). docs/operations.md, "The consumer roles"."""

    def __init__(self, ec2: EC2Client, write_ec2: Callable[[], EC2Client] | None = None) -> None:
        super().__init__(ec2)
        self._write_ec2 = write_ec2

    def _writer(self, group_id: str) -> EC2Client:
        if self._write_ec2 is None:
            raise GroupAccessDenied(
                f"no consumer write role is configured to change {group_id}", group_id=group_id
            )
        try:
            return self._write_ec2()
        except ConsumerRoleUnavailable as err:
            raise GroupAccessDenied(err.reason, group_id=group_id) from err

    def endpoint(self, endpoint_id: str) -> ConsumerEndpoint:
        try:
            found = self._ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
        except ClientError as err:
            what = f"reading endpoint {endpoint_id} in the consumer account"
            raise domain_error(err, what, ON_CONSUMER_READ, None) from err
        if not found:
            raise EndpointNotFound(f"endpoint {endpoint_id} is not in the consumer account")
        item = found[0]
        return ConsumerEndpoint(
            endpoint_id=endpoint_id,
            vpc_id=item["VpcId"],
            state=str(item.get("State", "")),
            group_ids=tuple(group["GroupId"] for group in item.get("Groups", [])),
            interface_ids=tuple(item.get("NetworkInterfaceIds", [])),
        )

    def vpc_cidrs(self, vpc_id: str) -> tuple[str, ...]:
        """The VPC's associated IPv4 and IPv6 blocks (blocks being added or removed don't count)."""
        try:
            vpcs = self._ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
        except ClientError as err:
            what = f"reading VPC {vpc_id} in the consumer account"
            raise domain_error(err, what, ON_CONSUMER_READ, None) from err
        cidrs: list[str] = []
        for vpc in vpcs:
            cidrs.extend(
                block["CidrBlock"]
                for block in vpc.get("CidrBlockAssociationSet", [])
                if block.get("CidrBlockState", {}).get("State") == "associated"
            )
            cidrs.extend(
                block["Ipv6CidrBlock"]
                for block in vpc.get("Ipv6CidrBlockAssociationSet", [])
                if block.get("Ipv6CidrBlockState", {}).get("State") == "associated"
            )
        return tuple(cidrs)


class _LoadBalancing(Protocol):
    def describe_load_balancers(self, *, LoadBalancerArns: list[str]) -> Mapping[str, Any]: ...


class ProviderSecurityGroups(Ec2SecurityGroups):
    """This account's groups, and the load balancers behind its endpoint services."""

    def __init__(self, ec2: EC2Client, elbv2: _LoadBalancing) -> None:
        super().__init__(ec2)
        self._elbv2 = elbv2

    def load_balancers(self, service_id: str) -> tuple[LoadBalancer, ...]:
        try:
            configurations = self._ec2.describe_vpc_endpoint_service_configurations(
                ServiceIds=[service_id]
            )["ServiceConfigurations"]
            arns = [arn for c in configurations for arn in c.get("NetworkLoadBalancerArns", [])]
            if not arns:
                return ()
            found = self._elbv2.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]
        except ClientError as err:
            what = f"reading the load balancers of {service_id}"
            raise domain_error(err, what, ON_GROUP, None) from err
        return tuple(
            LoadBalancer(
                arn=lb["LoadBalancerArn"],
                group_ids=tuple(lb.get("SecurityGroups", [])),
                enforcement=ENFORCEMENT.get(
                    str(lb.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic")), "unknown"
                ),
            )
            for lb in found
        )

    def connection_state(self, service_id: str, endpoint_id: str) -> str | None:
        """Through the shared provider adapter; its AWS errors propagate (worth a retry)."""
        provider = ProviderEc2(self._ec2, self._ec2.meta.region_name)
        connection = provider.connections(service_id, [endpoint_id]).get(endpoint_id)
        return None if connection is None else connection.state


def _cidr(value: str | None) -> str | None:
    return None if value is None else normalised(value)


def _existing_rule(item: Mapping[str, Any]) -> ExistingRule:
    return ExistingRule(
        rule_id=item["SecurityGroupRuleId"],
        group_id=item.get("GroupId", ""),
        egress=bool(item.get("IsEgress", False)),
        protocol=str(item.get("IpProtocol", "")),
        from_port=item.get("FromPort"),
        to_port=item.get("ToPort"),
        cidr=_cidr(item.get("CidrIpv4") or item.get("CidrIpv6")),
        description=item.get("Description"),
        tags={tag["Key"]: tag["Value"] for tag in item.get("Tags", [])},
    )


def consumer_access(
    reader: ConsumerReader, writer: ConsumerReader | None = None
) -> Callable[[str, str], ConsumerSecurityGroups]:
    """(account, region) -> the consumer's EC2: reads through the read role (`reader`), rule
    changes through the write role (`writer`), each assumed once per account by its shared
    `ConsumerReader`; a read role not configured, missing or denied is `ConsumerUnavailable`,
    with the reader's reason; a write role that is, is `GroupAccessDenied` at the change."""

    def access(account: str, region: str) -> ConsumerSecurityGroups:
        try:
            session = reader.session(account)
        except ConsumerRoleUnavailable as err:
            raise ConsumerUnavailable(err.reason) from err
        write_ec2 = None
        if writer is not None and writer.configured:
            write_ec2 = lambda: writer.session(account).ec2(region)  # noqa: E731
        return ConsumerSecurityGroups(session.ec2(region), write_ec2)

    return access
