"""Create a world in the local AWS through the AWS APIs, as its owners would.

Every resource is created by a client of the account that owns it, so loading a world runs the
same code paths as the tests that follow. Only what the APIs cannot express is set through
moto's internals: pinned IDs (services, organization root and units, member accounts).

IDs that are not pinned are still repeatable: just before each resource is created, moto's
random generator is seeded from the world's `seed` and the resource's own name, so adding an
account to a world does not change the IDs of the others.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.notifications import EVENTS
from acceptor_tools.local_aws.world import Account, Endpoint, Provider, Vpc, World

ClientFactory = Callable[[str, str, str], Any]  # (service, account, region) -> boto3 client


@dataclass
class VpcInfo:
    name: str
    id: str
    account: str
    region: str
    cidr: str
    ipv6_cidr: str | None
    tags: dict[str, str]
    subnets: dict[str, str]  # name -> subnet ID
    security_groups: dict[str, str]  # name -> group ID
    default_security_group: str


@dataclass
class AccountInfo:
    id: str
    name: str
    region: str
    is_provider: bool
    ou_path: tuple[str, ...] | None  # unit names below the root; None: not in the organization
    ou_ids: tuple[str, ...] | None  # root ID, then unit IDs down to the account's parent
    vpcs: dict[str, VpcInfo] = field(default_factory=dict)


@dataclass
class ServiceInfo:
    name: str
    id: str
    service_name: str
    region: str
    acceptance_required: bool
    load_balancer_arns: list[str]
    load_balancer_security_groups: list[str]
    notify_topic_arn: str | None


@dataclass
class EndpointInfo:
    name: str
    id: str
    account: str
    region: str
    service: str  # world name of the service
    service_id: str
    vpc_id: str
    subnet_ids: list[str]
    security_group_ids: list[str]
    tags: dict[str, str]
    state: str  # right after creation


@dataclass
class LoadedWorld:
    """The world as created: real IDs by world name."""

    spec: World
    accounts: dict[str, AccountInfo]  # by account ID, provider included
    services: dict[str, ServiceInfo]  # by world name
    endpoints: dict[str, EndpointInfo] = field(default_factory=dict)  # by world name, once created
    organization_id: str | None = None
    root_id: str | None = None
    unit_ids: dict[str, str] = field(default_factory=dict)  # "workloads/prod" -> ou-…

    @property
    def provider_account(self) -> str:
        return self.spec.provider.account

    @property
    def region(self) -> str:
        return self.spec.region_of(self.spec.provider.account)

    @property
    def consumers(self) -> list[AccountInfo]:
        return [a for a in self.accounts.values() if not a.is_provider]

    def vpc(self, account_id: str, name: str) -> VpcInfo:
        return self.accounts[account_id].vpcs[name]


def seed_world(spec: World, client: ClientFactory) -> LoadedWorld:
    """Create the infrastructure of `spec` (not its endpoints: see `create_endpoints`)."""
    seeder = _Seeder(spec, client)
    provider = seeder.account(spec.provider, is_provider=True)
    accounts = {provider.id: provider}
    services = seeder.services(spec.provider, provider)
    for account in spec.accounts:
        accounts[account.account] = seeder.account(account, is_provider=False)
    loaded = LoadedWorld(spec=spec, accounts=accounts, services=services)
    if spec.has_organization:
        seeder.organization(loaded)
    return loaded


def create_endpoints(
    loaded: LoadedWorld, client: ClientFactory, names: Iterable[str] | None = None
) -> list[EndpointInfo]:
    """Create the world's endpoints (all, or those named), each by its consumer account."""
    wanted = list(names) if names is not None else [e.name for e in loaded.spec.endpoints]
    by_name = {e.name: e for e in loaded.spec.endpoints}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise KeyError(f"no endpoint named {', '.join(unknown)} in the world")
    created = []
    for name in wanted:
        if name in loaded.endpoints:
            raise ValueError(f"endpoint {name} was already created")
        info = _create_endpoint(loaded, client, by_name[name])
        loaded.endpoints[name] = info
        created.append(info)
    return created


def _create_endpoint(loaded: LoadedWorld, client: ClientFactory, spec: Endpoint) -> EndpointInfo:
    vpc = loaded.vpc(spec.account, spec.vpc)
    service = loaded.services[spec.service]
    subnet_ids = [vpc.subnets[s] for s in spec.subnets] or list(vpc.subnets.values())
    groups = [vpc.security_groups[g] for g in spec.security_groups] or [vpc.default_security_group]
    ec2 = client("ec2", spec.account, vpc.region)
    request: dict[str, Any] = {
        "VpcEndpointType": "Interface",
        "VpcId": vpc.id,
        "ServiceName": service.service_name,
        "SubnetIds": subnet_ids,
        "SecurityGroupIds": groups,
        "IpAddressType": spec.ip_address_type,
        "PrivateDnsEnabled": False,
        "TagSpecifications": _tag_spec("vpc-endpoint", {"Name": spec.name, **spec.tags}),
    }
    if vpc.region != service.region:
        request["ServiceRegion"] = service.region
    _reseed(loaded.spec.seed, f"endpoint/{spec.name}")
    with _pinned("vpc-endpoint", spec.id):
        endpoint = ec2.create_vpc_endpoint(**request)["VpcEndpoint"]
    _check_pinned("endpoint", spec.id, endpoint["VpcEndpointId"])
    return EndpointInfo(
        name=spec.name,
        id=endpoint["VpcEndpointId"],
        account=spec.account,
        region=vpc.region,
        service=spec.service,
        service_id=service.id,
        vpc_id=vpc.id,
        subnet_ids=subnet_ids,
        security_group_ids=groups,
        tags=dict(spec.tags),
        state=endpoint["State"],
    )


class _Seeder:
    def __init__(self, spec: World, client: ClientFactory) -> None:
        self.spec = spec
        self.client = client

    def _ec2(self, account: str, region: str) -> Any:
        ec2 = self.client("ec2", account, region)
        # The first call to an account's region builds its default VPC from moto's random
        # generator: done before any reseeding so that it cannot shift the world's own IDs.
        ec2.describe_availability_zones()
        return ec2

    def account(self, spec: Account | Provider, is_provider: bool) -> AccountInfo:
        region = self.spec.region_of(spec.account)
        info = AccountInfo(
            id=spec.account,
            name=spec.name,
            region=region,
            is_provider=is_provider,
            ou_path=None,
            ou_ids=None,
        )
        for vpc in spec.vpcs:
            info.vpcs[vpc.name] = self.vpc(spec.account, vpc, vpc.region or region)
        return info

    def vpc(self, account: str, spec: Vpc, region: str) -> VpcInfo:
        ec2 = self._ec2(account, region)
        key = f"{account}/{region}/vpc/{spec.name}"
        _reseed(self.spec.seed, key)
        with _pinned("vpc", spec.id):
            created = ec2.create_vpc(
                CidrBlock=spec.cidr,
                AmazonProvidedIpv6CidrBlock=spec.ipv6,
                TagSpecifications=_tag_spec("vpc", {"Name": spec.name, **spec.tags}),
            )["Vpc"]
        vpc_id = _check_pinned("VPC", spec.id, created["VpcId"])
        ipv6 = [a["Ipv6CidrBlock"] for a in created.get("Ipv6CidrBlockAssociationSet", [])]
        zones = [f"{region}{letter}" for letter in string.ascii_lowercase[:3]]
        subnets = {}
        for index, subnet in enumerate(spec.subnets):
            _reseed(self.spec.seed, f"{key}/subnet/{subnet.name}")
            subnets[subnet.name] = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=subnet.cidr,
                AvailabilityZone=subnet.az or zones[index % len(zones)],
                TagSpecifications=_tag_spec("subnet", {"Name": subnet.name}),
            )["Subnet"]["SubnetId"]
        groups = {}
        for group in spec.security_groups:
            _reseed(self.spec.seed, f"{key}/security-group/{group.name}")
            with _pinned("security-group", group.id):
                group_id = ec2.create_security_group(
                    GroupName=group.name,
                    Description=group.description,
                    VpcId=vpc_id,
                    TagSpecifications=_tag_spec(
                        "security-group", {"Name": group.name, **group.tags}
                    ),
                )["GroupId"]
            _check_pinned("security group", group.id, group_id)
            if group.ingress:
                ec2.authorize_security_group_ingress(
                    GroupId=group_id,
                    IpPermissions=[
                        {
                            "IpProtocol": rule.protocol,
                            "FromPort": rule.port,
                            "ToPort": rule.to_port if rule.to_port is not None else rule.port,
                            **_ranges(rule.cidr, rule.description),
                        }
                        for rule in group.ingress
                    ],
                )
            groups[group.name] = group_id
        default = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"][0]["GroupId"]
        return VpcInfo(
            name=spec.name,
            id=vpc_id,
            account=account,
            region=region,
            cidr=spec.cidr,
            ipv6_cidr=ipv6[0] if ipv6 else None,
            tags=dict(spec.tags),
            subnets=subnets,
            security_groups=groups,
            default_security_group=default,
        )

    def services(self, spec: Provider, provider: AccountInfo) -> dict[str, ServiceInfo]:
        account, region = spec.account, provider.region
        elbv2 = self.client("elbv2", account, region)
        ec2 = self._ec2(account, region)
        balancers: dict[str, tuple[str, list[str]]] = {}
        for lb in spec.load_balancers:
            vpc = provider.vpcs[lb.vpc]
            groups = [vpc.security_groups[g] for g in lb.security_groups]
            request: dict[str, Any] = {
                "Name": lb.name,
                "Subnets": [vpc.subnets[s] for s in lb.subnets],
                "Scheme": "internal",
                "Type": "network",
            }
            if groups:
                request["SecurityGroups"] = groups
            _reseed(self.spec.seed, f"{account}/load-balancer/{lb.name}")
            arn = elbv2.create_load_balancer(**request)["LoadBalancers"][0]["LoadBalancerArn"]
            balancers[lb.name] = (arn, groups)
        services = {}
        for service in spec.services:
            arns = [balancers[name][0] for name in service.load_balancers]
            _reseed(self.spec.seed, f"{account}/service/{service.name}")
            config = ec2.create_vpc_endpoint_service_configuration(
                NetworkLoadBalancerArns=arns,
                AcceptanceRequired=service.acceptance_required,
                SupportedRegions=service.supported_regions,
                TagSpecifications=_tag_spec(
                    "vpc-endpoint-service", {"Name": service.name, **service.tags}
                ),
            )["ServiceConfiguration"]
            service_id = config["ServiceId"]
            if service.id:
                moto.pin_endpoint_service_id(account, region, service_id, service.id)
                service_id = service.id
            if service.allowed_principals:
                ec2.modify_vpc_endpoint_service_permissions(
                    ServiceId=service_id, AddAllowedPrincipals=service.allowed_principals
                )
            topic_arn = None
            if service.notify_topic:
                topic_arn = self._topic(account, region, service.notify_topic)
                ec2.create_vpc_endpoint_connection_notification(
                    ServiceId=service_id,
                    ConnectionNotificationArn=topic_arn,
                    ConnectionEvents=list(EVENTS),
                )
            services[service.name] = ServiceInfo(
                name=service.name,
                id=service_id,
                service_name=f"com.amazonaws.vpce.{region}.{service_id}",
                region=region,
                acceptance_required=service.acceptance_required,
                load_balancer_arns=arns,
                load_balancer_security_groups=sorted(
                    {g for name in service.load_balancers for g in balancers[name][1]}
                ),
                notify_topic_arn=topic_arn,
            )
        return services

    def _topic(self, account: str, region: str, name: str) -> str:
        sns = self.client("sns", account, region)
        arn: str = sns.create_topic(Name=name)["TopicArn"]  # idempotent, like AWS
        policy = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"vpce.amazonaws.com"},"Action":"SNS:Publish",'
            f'"Resource":"{arn}"}}]}}'
        )
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
        return arn

    def organization(self, loaded: LoadedWorld) -> None:
        management = self.spec.provider.account
        orgs = self.client("organizations", management, loaded.region)
        loaded.organization_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        root_id = orgs.list_roots()["Roots"][0]["Id"]
        pinned_root = self.spec.organization.root_id if self.spec.organization else None
        if pinned_root:
            moto.pin_organization_root_id(management, pinned_root)
            root_id = pinned_root
        loaded.root_id = root_id
        moto.set_account_name(management, management, self.spec.provider.name)
        pinned = self.spec.pinned_unit_ids()
        ids: dict[tuple[str, ...], str] = {(): root_id}
        for path in self.spec.unit_paths():
            unit_id = orgs.create_organizational_unit(ParentId=ids[path[:-1]], Name=path[-1])[
                "OrganizationalUnit"
            ]["Id"]
            if path in pinned:
                moto.pin_organizational_unit_id(management, unit_id, pinned[path])
                unit_id = pinned[path]
            ids[path] = unit_id
            loaded.unit_ids["/".join(path)] = unit_id
        for account in self.spec.accounts:
            if account.ou is None:
                continue
            status = orgs.create_account(
                Email=account.email or f"aws+{account.account}@example.com",
                AccountName=account.name,
                Tags=[{"Key": k, "Value": v} for k, v in account.tags.items()],
            )["CreateAccountStatus"]
            moto.pin_account_id(management, status["AccountId"], account.account)
            path = tuple(p for p in account.ou.split("/") if p)
            if path:
                orgs.move_account(
                    AccountId=account.account, SourceParentId=root_id, DestinationParentId=ids[path]
                )
            info = loaded.accounts[account.account]
            info.ou_path = path
            info.ou_ids = tuple(ids[path[:depth]] for depth in range(len(path) + 1))
        provider = loaded.accounts[management]
        provider.ou_path, provider.ou_ids = (), (root_id,)


@contextmanager
def _pinned(kind: str, wanted: str | None) -> Iterator[None]:
    """The world's own ID for the resource created in this block, when it pins one."""
    if wanted is None:
        yield
        return
    with moto.pinned_id(kind, wanted):
        yield


def _check_pinned(what: str, wanted: str | None, created: str) -> str:
    if wanted is not None and created != wanted:
        raise RuntimeError(f"the {what} pinned as {wanted} was created as {created}")
    return created


def _reseed(seed: int, key: str) -> None:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    moto.seed_random(int.from_bytes(digest[:8], "big"))


def _tag_spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ]


def _ranges(cidr: str, description: str) -> dict[str, Any]:
    entry: dict[str, str] = {"Description": description} if description else {}
    if ":" in cidr:
        return {"Ipv6Ranges": [{"CidrIpv6": cidr, **entry}]}
    return {"IpRanges": [{"CidrIp": cidr, **entry}]}
