"""The world file: the accounts, networks, services and endpoints the local AWS starts with.

A world is YAML (documented in docs/local-aws.md, demo in events/world.yaml). This module only
reads and validates it; `seed.py` creates it through the AWS APIs. Names (of VPCs, subnets,
groups, load balancers, services, endpoints) are the world's own handles, unique where they are
looked up; IDs are AWS's. The IDs that policies and sample events name can be pinned (services,
the organization's root and units, VPCs, security groups, endpoints); the others are repeatable
for a world file (see `seed`) but not a contract.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from acceptor.policy.messages import validation_issues, with_location
from acceptor.policy.source import Issue, read_source

AccountId = Annotated[StrictStr, StringConstraints(pattern=r"^[0-9]{12}$")]
Name = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
Region = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")]
ServiceId = Annotated[
    StrictStr, StringConstraints(pattern=r"^vpce-svc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
]
VpcId = Annotated[StrictStr, StringConstraints(pattern=r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")]
GroupId = Annotated[StrictStr, StringConstraints(pattern=r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")]
EndpointId = Annotated[StrictStr, StringConstraints(pattern=r"^vpce-(?:[0-9a-f]{8}|[0-9a-f]{17})$")]
RootId = Annotated[StrictStr, StringConstraints(pattern=r"^r-[0-9a-z]{4}$")]
UnitId = Annotated[StrictStr, StringConstraints(pattern=r"^ou-[0-9a-z]{4}-[0-9a-z]{8}$")]
Tags = dict[StrictStr, StrictStr]


class WorldError(ValueError):
    """A world file that cannot be used; the message says where and why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngressRule(_Model):
    cidr: StrictStr
    port: int = Field(ge=0, le=65535)
    to_port: int | None = Field(default=None, ge=0, le=65535)  # a range port..to_port
    protocol: Literal["tcp", "udp", "icmp", "-1"] = "tcp"
    description: StrictStr = ""

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        ipaddress.ip_network(value, strict=True)
        return value


class SecurityGroup(_Model):
    name: Name
    id: GroupId | None = None  # pinned ID; moto invents one otherwise
    description: StrictStr = "created by the local AWS world"
    ingress: list[IngressRule] = []
    tags: Tags = {}


class Subnet(_Model):
    name: Name
    cidr: StrictStr
    az: StrictStr | None = None  # default: the region's zones a, b, c... in order


class Vpc(_Model):
    name: Name
    id: VpcId | None = None  # pinned ID; moto invents one otherwise
    cidr: StrictStr
    ipv6: bool = False  # ask AWS for an IPv6 block too
    region: Region | None = None  # default: the account's region
    tags: Tags = {}
    subnets: list[Subnet] = Field(min_length=1)
    security_groups: list[SecurityGroup] = []

    @model_validator(mode="after")
    def _unique(self) -> Vpc:
        _no_duplicates(f"subnets of VPC {self.name}", (s.name for s in self.subnets))
        _no_duplicates(
            f"security groups of VPC {self.name}", (g.name for g in self.security_groups)
        )
        network = ipaddress.ip_network(self.cidr, strict=True)
        for subnet in self.subnets:
            if not ipaddress.ip_network(subnet.cidr, strict=True).subnet_of(network):  # type: ignore[arg-type]
                raise ValueError(f"subnet {subnet.name} ({subnet.cidr}) is not in {self.cidr}")
        return self


class LoadBalancer(_Model):
    """A network load balancer; `security_groups: []` makes one without groups."""

    name: Name
    vpc: Name
    subnets: list[Name] = Field(min_length=1)
    security_groups: list[Name] = []


class Service(_Model):
    name: Name
    id: ServiceId | None = None  # pinned ID; moto invents one otherwise
    load_balancers: list[Name] = Field(min_length=1)
    acceptance_required: bool = True
    allowed_principals: list[StrictStr] = ["*"]
    supported_regions: list[Region] = []  # other regions it serves (cross-region PrivateLink)
    tags: Tags = {}
    notify_topic: Name | None = None  # SNS topic (created) notified of every connection event


class Provider(_Model):
    account: AccountId
    name: StrictStr = "provider"
    region: Region | None = None
    vpcs: list[Vpc] = []
    load_balancers: list[LoadBalancer] = []
    services: list[Service] = []


class Account(_Model):
    account: AccountId
    name: StrictStr
    email: StrictStr | None = None
    # path of organizational unit names below the root ("workloads/prod"; "/" for the root
    # itself); absent: the account is not in the organization
    ou: StrictStr | None = None
    region: Region | None = None
    tags: Tags = {}
    vpcs: list[Vpc] = []


class Endpoint(_Model):
    name: Name
    id: EndpointId | None = None  # pinned ID; moto invents one otherwise
    account: AccountId
    vpc: Name
    service: Name
    subnets: list[Name] = []  # default: every subnet of the VPC
    security_groups: list[Name] = []  # default: the VPC's default group, as AWS does
    tags: Tags = {}
    ip_address_type: Literal["ipv4", "dualstack", "ipv6"] = "ipv4"


class Unit(_Model):
    path: StrictStr
    id: UnitId | None = None


class Organization(_Model):
    root_id: RootId | None = None
    units: list[Unit] = []


# DescribeVpcEndpointConnections filters a world may make the local AWS refuse.
RefusableFilter = Literal[
    "vpc-endpoint-id",
    "service-id",
    "vpc-endpoint-owner",
    "vpc-endpoint-state",
    "vpc-endpoint-region",
    "ip-address-type",
]


class World(_Model):
    version: Literal[1]
    region: Region = "us-east-1"
    seed: int = 0  # IDs moto invents derive from it and from each resource's name
    # answered with InvalidFilter, as real AWS may answer `vpc-endpoint-id` (docs/local-aws.md)
    refuse_filters: list[RefusableFilter] = []
    provider: Provider
    organization: Organization | None = None
    accounts: list[Account] = []
    endpoints: list[Endpoint] = []

    @model_validator(mode="after")
    def _references(self) -> World:
        accounts = {a.account: a for a in self.accounts}
        _no_duplicates("account IDs", [self.provider.account, *(a.account for a in self.accounts)])
        # names become AWS CLI profile names and organization account names
        _no_duplicates("account names", [self.provider.name, *(a.name for a in self.accounts)])
        _no_duplicates("provider VPCs", (v.name for v in self.provider.vpcs))
        for account in self.accounts:
            _no_duplicates(f"VPCs of account {account.account}", (v.name for v in account.vpcs))
        self._check_provider()
        self._check_organization()
        _no_duplicates("endpoints", (e.name for e in self.endpoints))
        _no_duplicates("pinned IDs", self._pinned_ids())
        services = {s.name: s for s in self.provider.services}
        for endpoint in self.endpoints:
            where = f"endpoint {endpoint.name}"
            if endpoint.service not in services:
                raise ValueError(f"{where}: unknown service {endpoint.service!r}")
            owner = accounts.get(endpoint.account)
            vpcs = {v.name: v for v in (owner.vpcs if owner else self.provider.vpcs)}
            if owner is None and endpoint.account != self.provider.account:
                raise ValueError(f"{where}: account {endpoint.account} is not in the world")
            vpc = vpcs.get(endpoint.vpc)
            if vpc is None:
                raise ValueError(f"{where}: account {endpoint.account} has no VPC {endpoint.vpc!r}")
            _known(where, "subnet", endpoint.subnets, (s.name for s in vpc.subnets))
            _known(
                where,
                "security group",
                endpoint.security_groups,
                (g.name for g in vpc.security_groups),
            )
        return self

    def _pinned_ids(self) -> list[str | None]:
        vpcs = [*self.provider.vpcs, *(v for account in self.accounts for v in account.vpcs)]
        return [
            *(v.id for v in vpcs),
            *(g.id for v in vpcs for g in v.security_groups),
            *(e.id for e in self.endpoints),
        ]

    def _check_provider(self) -> None:
        vpcs = {v.name: v for v in self.provider.vpcs}
        _no_duplicates("load balancers", (lb.name for lb in self.provider.load_balancers))
        for lb in self.provider.load_balancers:
            where = f"load balancer {lb.name}"
            vpc = vpcs.get(lb.vpc)
            if vpc is None:
                raise ValueError(f"{where}: unknown provider VPC {lb.vpc!r}")
            _known(where, "subnet", lb.subnets, (s.name for s in vpc.subnets))
            _known(
                where, "security group", lb.security_groups, (g.name for g in vpc.security_groups)
            )
        _no_duplicates("services", (s.name for s in self.provider.services))
        _no_duplicates("service IDs", (s.id for s in self.provider.services if s.id))
        balancers = [lb.name for lb in self.provider.load_balancers]
        for service in self.provider.services:
            _known(f"service {service.name}", "load balancer", service.load_balancers, balancers)

    def _check_organization(self) -> None:
        units = self.organization.units if self.organization else []
        _no_duplicates("organizational units", ("/".join(_normal_path(u.path)) for u in units))
        root_id = self.organization.root_id if self.organization else None
        for unit in units:
            if not _normal_path(unit.path):
                raise ValueError("an organizational unit needs a path below the root")
            if unit.id and root_id and unit.id.split("-")[1] != root_id.split("-")[1]:
                raise ValueError(
                    f"organizational unit {unit.path}: ID {unit.id} must carry the root's "
                    f"suffix ({root_id.split('-')[1]})"
                )
        _no_duplicates("organizational unit IDs", (u.id for u in units if u.id))

    # Derived views used by the loader.

    def region_of(self, account_id: str) -> str:
        if account_id == self.provider.account:
            return self.provider.region or self.region
        return next(a for a in self.accounts if a.account == account_id).region or self.region

    def unit_paths(self) -> list[tuple[str, ...]]:
        """Every OU path to create, parents before children."""
        paths: set[tuple[str, ...]] = set()
        declared = [u.path for u in self.organization.units] if self.organization else []
        placed = [a.ou for a in self.accounts if a.ou is not None]
        for path in [*declared, *placed]:
            parts = _normal_path(path)
            for depth in range(1, len(parts) + 1):
                paths.add(parts[:depth])
        return sorted(paths, key=lambda p: (len(p), p))

    def pinned_unit_ids(self) -> dict[tuple[str, ...], str]:
        units = self.organization.units if self.organization else []
        return {_normal_path(u.path): u.id for u in units if u.id}

    @property
    def has_organization(self) -> bool:
        return self.organization is not None or any(a.ou is not None for a in self.accounts)


def _normal_path(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.strip().split("/") if part)


def _no_duplicates(what: str, names: Iterable[str | None]) -> None:
    seen: set[str] = set()
    for name in names:
        if name is None:
            continue
        if name in seen:
            raise ValueError(f"duplicate name in {what}: {name!r}")
        seen.add(name)


def _known(where: str, what: str, names: list[str], known: Iterable[str]) -> None:
    known_names = set(known)
    for name in names:
        if name not in known_names:
            raise ValueError(f"{where}: unknown {what} {name!r}")


def load_world(path: str | Path) -> World:
    """Read and validate a world file; `WorldError` names the file and the problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as err:
        raise WorldError(f"{source}: cannot read: {err.strerror}") from err
    return parse_world(text, str(source))


def parse_world(text: str, origin: str = "<world>") -> World:
    """Every problem as `path:line: message`, in the words of policy errors: the file is read
    with the lines of its keys (acceptor.policy.source) and pydantic's errors are told by the
    same tables (acceptor.policy.messages)."""
    tree, issues = read_source(text, "yaml")
    if issues:
        raise WorldError(_problems(origin, issues, tree.data))
    data = tree.data
    if not isinstance(data, dict) or "provider" not in data:
        looks_like = " (it looks like a policy file)" if _is_policy(data) else ""
        raise WorldError(
            f"{origin}:{tree.line_of(())}: not a world file{looks_like}: a world file has "
            "version: 1, provider: and accounts: (docs/local-aws.md, 'The world file')"
        )
    try:
        return World.model_validate(data)
    except ValidationError as err:
        raise WorldError(_problems(origin, validation_issues(err, tree, root=World), data)) from err


def _is_policy(data: object) -> bool:
    return isinstance(data, dict) and bool({"rules", "default", "services"} & set(data))


def _problems(origin: str, issues: Iterable[Issue], data: object) -> str:
    return "\n".join(
        f"{origin}:{issue.line or 1}: {with_location(issue.path, issue.message, data)}"
        for issue in issues
    )
