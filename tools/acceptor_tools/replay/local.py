"""The acceptor's template replayed on the local AWS with a world loaded.

This is where the generic replay meets this project: the stack is deployed in the world's
provider account and region, manages the world's endpoint services tagged
`privatelink-acceptor:managed=true` (its first sweep, run at deploy, gives each its connection
notification),
reads consumer facts through a consumer role and OU paths from the world's organization, and
reads its policy from a folder of this checkout (in AWS a layer puts it at /opt/policies).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acceptor.aws.managed_services import EndpointServices
from acceptor.flows.managed import keep_notifications
from acceptor.managed import managed_scan
from acceptor_tools.local_aws import LocalAws
from acceptor_tools.replay.engine import Progress
from acceptor_tools.replay.report import GroupRule
from acceptor_tools.replay.session import Limits, ReplaySession
from acceptor_tools.replay.template import declared_parameters, load_app

STACK = "privatelink-acceptor"
# Parameters the replay sets unless told otherwise (`--parameter NAME=VALUE`), when the
# template declares them: the local world is there to be acted on, it has an organization,
# and every consumer account can be read through the role that consumer-role.yaml creates.
LOCAL_PARAMETERS: Mapping[str, str] = {
    "DryRun": "false",
    "ConsumerRoleName": "PrivateLinkAcceptorConsumer",
    "ExternalId": "replay-local-external-id",
    "OrganizationsAccess": "direct",
}
# The optional filter of the managed set; unset, the tags alone decide (docs/operations.md).
MANAGED_SERVICES_PARAMETER = "ManagedServiceIds"


@dataclass(frozen=True)
class ReplayConfig:
    template: Path
    world: Path
    policy: Path
    outbox: Path
    parameters: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


class ProviderAccount:
    """The world's provider account, where the stack is deployed."""

    def __init__(self, aws: LocalAws) -> None:
        self._aws = aws
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        # One client per service: each new session loads the service's model again.
        if service not in self._clients:
            self._clients[service] = self._aws.client(service)
        return self._clients[service]

    def env(self) -> dict[str, str]:
        return self._aws.env()


@dataclass
class LocalReplay:
    aws: LocalAws
    session: ReplaySession
    config: ReplayConfig


@contextmanager
def local_replay(
    config: ReplayConfig, progress: Progress | None = None, *, endpoints_first: bool = False
) -> Iterator[LocalReplay]:
    """Start the local AWS with the world, deploy the template there, hand back the session.

    `endpoints_first`: the world's endpoints are created before the stack is deployed, so they
    are there (pending, as their consumers left them) without their notifications having reached
    the stack: the connections that event files name."""
    with LocalAws(config.world) as aws:
        if endpoints_first:
            aws.create_endpoints()
        session = deploy_stack(aws, config, progress, first_sweep_runs=not endpoints_first)
        yield LocalReplay(aws=aws, session=session, config=config)


def deploy_stack(
    aws: LocalAws, config: ReplayConfig, progress: Progress | None, *, first_sweep_runs: bool
) -> ReplaySession:
    """The template deployed in the world's provider account of a running local AWS (in-process
    or served), with its policy: the replay's, and `acceptor local-aws serve --app`'s. Then the
    stack's first sweep, or (`first_sweep_runs=False`) only the notifications it would create."""
    world = aws.world
    declared = declared_parameters(config.template)
    parameters = {k: v for k, v in LOCAL_PARAMETERS.items() if k in declared}
    parameters.update(config.parameters)
    app = load_app(
        config.template,
        account=world.provider_account,
        region=world.region,
        stack=STACK,
        parameter_overrides=parameters,
    )
    session = ReplaySession(
        app,
        ProviderAccount(aws),
        log_dir=config.outbox / "logs",
        environment_overrides={"POLICY_PATH": str(config.policy.resolve())},
        progress=progress,
    )
    if first_sweep_runs:
        first_sweep(session, world.provider_account, world.region)
    else:
        keep_notifications_only(session, aws)
    return session


def first_sweep(session: ReplaySession, account: str, region: str) -> None:
    """The stack's first Reconcile run, as `aws lambda invoke` of ReconcileFunction after a
    deploy would be (docs/operations.md): it creates the managed services' connection
    notifications. Replays of event files skip it: their endpoints exist before the stack, and
    a sweep would request every one of them."""
    session.inject(schedule_event(account, region, "replay-first-sweep"), source="first sweep")
    session.run()


def keep_notifications_only(session: ReplaySession, aws: LocalAws) -> None:
    """For replays of event files: the notifications the first sweep would create, made by
    Reconcile's own code (`acceptor.flows.managed`) without the sweep, so that the accepts and
    rejects the files cause come back as notifications, and no pending endpoint is requested."""
    reconcile = session.app.functions["ReconcileFunction"].environment
    only = [s for s in reconcile.get("MANAGED_SERVICE_IDS", "").split(",") if s]
    services = EndpointServices(aws.client("ec2"))
    keep_notifications(
        services,
        managed_scan(services.services(), only).managed,
        reconcile["CONNECTION_TOPIC_ARN"],
        reconcile.get("CONNECTION_TOPIC_PREFIX", ""),
    )


SWEEP_RULE = "ReconcileFunctionSweep"  # the rule SAM makes of ReconcileFunction's Sweep event


def schedule_event(
    account: str, region: str, event_id: str, rule: str = SWEEP_RULE
) -> dict[str, Any]:
    """A Scheduled Event of one of the stack's schedule rules (by logical ID; the sweep's by
    default), in EventBridge's shape, its rule named as AWS names it (STACK-LogicalId-SUFFIX)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/privatelink-acceptor-{rule}-LOCAL"],
        "detail": {},
    }


def unmanaged_services(aws: LocalAws, parameters: Mapping[str, str]) -> list[str]:
    """The provider's services the stack leaves alone, read as the acceptor reads them (tags,
    and the ManagedServiceIds filter when the replay sets it)."""
    only = [s for s in parameters.get(MANAGED_SERVICES_PARAMETER, "").split(",") if s]
    services = EndpointServices(aws.client("ec2")).services()
    managed = managed_scan(services, only).managed
    return sorted(s.service_id for s in services if s.service_id not in managed)


def security_group_rules(aws: LocalAws) -> frozenset[GroupRule]:
    """Every ingress rule of every group in every account of the world."""
    rules: set[GroupRule] = set()
    for account in aws.world.accounts.values():
        regions = {account.region, *(vpc.region for vpc in account.vpcs.values())}
        for region in sorted(regions):
            ec2 = aws.client("ec2", account=account.id, region=region)
            for page in ec2.get_paginator("describe_security_groups").paginate():
                for group in page["SecurityGroups"]:
                    rules.update(_flatten(account.id, group))
    return frozenset(rules)


def _flatten(account: str, group: Mapping[str, Any]) -> Iterator[GroupRule]:
    for permission in group.get("IpPermissions") or []:
        sources = [
            *((r["CidrIp"], r.get("Description", "")) for r in permission.get("IpRanges", [])),
            *((r["CidrIpv6"], r.get("Description", "")) for r in permission.get("Ipv6Ranges", [])),
            *(
                (r["GroupId"], r.get("Description", ""))
                for r in permission.get("UserIdGroupPairs", [])
            ),
            *(
                (r["PrefixListId"], r.get("Description", ""))
                for r in permission.get("PrefixListIds", [])
            ),
        ]
        for source, description in sources:
            yield GroupRule(
                account=account,
                group_id=group["GroupId"],
                protocol=str(permission.get("IpProtocol")),
                from_port=permission.get("FromPort"),
                to_port=permission.get("ToPort"),
                source=source,
                description=description,
            )


def connection_states(aws: LocalAws, services: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The provider's view of every connection to `services`, by endpoint ID."""
    ec2 = aws.client("ec2")
    wanted = list(services)
    states: dict[str, dict[str, Any]] = {}
    if not wanted:
        return states
    pages = ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
        Filters=[{"Name": "service-id", "Values": wanted}]
    )
    for page in pages:
        for item in page["VpcEndpointConnections"]:
            states[item["VpcEndpointId"]] = item
    return states


def labels(aws: LocalAws) -> dict[str, str]:
    """Names people know the world's accounts, services and endpoints by."""
    world = aws.world
    names = {account.id: account.name for account in world.accounts.values()}
    names.update({service.id: service.name for service in world.services.values()})
    names.update({endpoint.id: endpoint.name for endpoint in world.endpoints.values()})
    return names
