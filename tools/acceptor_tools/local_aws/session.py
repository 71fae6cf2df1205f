"""`LocalAws`: the local AWS (moto + the PrivateLink extension) with a world loaded.

    with LocalAws("events/world.yaml") as aws:           # in-process (moto's mock)
        aws.create_endpoints(["payments-orders"])
        ec2 = aws.client("ec2")                           # the provider account
        ec2.describe_vpc_endpoint_connections()

    with LocalAws(world, server=True) as aws:             # moto's server on 127.0.0.1, free port
        aws.endpoint_url                                  # http://127.0.0.1:PORT

Accounts are chosen the AWS way: every session assumes a role in the account
(`arn:aws:iam::ACCOUNT:role/OrganizationAccountAccessRole`); moto maps the credentials it
returns to that account. Nothing leaves the machine: in-process, botocore never opens a socket;
as a server, only 127.0.0.1 is used.

moto's state is per process, so only one `LocalAws` can run at a time; each start begins from
an empty AWS, and stopping forgets everything.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from acceptor_tools.local_aws import moto_internals as moto
from acceptor_tools.local_aws.connections import FILTERS
from acceptor_tools.local_aws.extension import install
from acceptor_tools.local_aws.faults import FaultInjector
from acceptor_tools.local_aws.notifications import Delivery, MessageShape, shape_named
from acceptor_tools.local_aws.seed import EndpointInfo, LoadedWorld, create_endpoints, seed_world
from acceptor_tools.local_aws.server import Front, MotoServerThread
from acceptor_tools.local_aws.state import DeliveryFailure, extension_state
from acceptor_tools.local_aws.world import World, load_world

# Any key works: moto maps unknown keys to its default account, which then assumes roles.
BASE_ACCESS_KEY = "local-aws-base"
BASE_SECRET_KEY = "local-aws-base-secret"
ROLE_NAME = "OrganizationAccountAccessRole"
SESSION_NAME = "local-aws"
DEFAULT_REGION = "us-east-1"
CLIENT_CONFIG = Config(retries={"mode": "standard"})
# moto builds every EC2 backend with ~15,000 sample AMIs unless told not to: the world needs none,
# and leaving them out makes a start several times faster.
MOTO_ENVIRONMENT = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
# Comma-separated DescribeVpcEndpointConnections filters to refuse (e.g. vpc-endpoint-id), for a
# replay or a server started by a tool that takes no option for it (docs/local-aws.md).
REFUSE_FILTERS_VARIABLE = "LOCAL_AWS_REFUSE_FILTERS"


class LocalAws:
    _running: ClassVar[LocalAws | None] = None
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        world: World | str | Path | None = None,
        *,
        server: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        notification_shape: str | MessageShape = "default",
        settle_seconds: float = 0.0,
        refuse_filters: Iterable[str] = (),
        front: Front | None = None,
    ) -> None:
        """`world`: a `World` or the path of a world file (None: an empty AWS).
        `server`: run moto's server on `host:port` (0: a free port) instead of the mock.
        `notification_shape`: body of connection notifications (`notifications.SHAPES`).
        `settle_seconds`: how long an accepted connection stays `pending`.
        `refuse_filters`: DescribeVpcEndpointConnections filters answered with `InvalidFilter`,
        besides the world's `refuse_filters` and the `LOCAL_AWS_REFUSE_FILTERS` variable.
        `front`: in server mode, wraps moto's WSGI application (the function URL router)."""
        self._spec = load_world(world) if isinstance(world, str | Path) else world
        self._server_mode = server
        self._host, self._port = host, port
        self._shape = shape_named(notification_shape)
        self._settle_seconds = settle_seconds
        self._refused_filters = frozenset(refuse_filters)
        self._front = front
        self._mock: Any = None
        self._server: MotoServerThread | None = None
        self._endpoint_url: str | None = None
        self._world: LoadedWorld | None = None
        self._credentials: dict[str, dict[str, str]] = {}
        self._sessions: dict[tuple[str, str], boto3.Session] = {}
        self._seed_clients: dict[tuple[str, str, str], Any] = {}
        self._client_factory: boto3.Session | None = None  # one session makes every client
        self._lock = threading.RLock()
        self._saved_environment: dict[str, str | None] = {}

    # lifecycle

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        if "MOTO_ACCOUNT_ID" in os.environ:
            raise RuntimeError("MOTO_ACCOUNT_ID is set: it would put every request in one account")
        with LocalAws._running_lock:
            if LocalAws._running is not None:
                raise RuntimeError("a LocalAws is already running in this process")
            LocalAws._running = self
        try:
            self._saved_environment = {name: os.environ.get(name) for name in MOTO_ENVIRONMENT}
            os.environ.update(MOTO_ENVIRONMENT)
            state = install()
            state.reset()
            state.notifications.shape = self._shape
            state.settle_seconds = self._settle_seconds
            state.refused_filters = self._refused_filters | refused_filters(
                self._spec, os.environ.get(REFUSE_FILTERS_VARIABLE, "")
            )
            moto.reset_all_backends()
            if self._server_mode:
                self._server = MotoServerThread(self._host, self._port, self._front)
                self._endpoint_url = self._server.start()
            else:
                self._mock = moto.mock_aws_context()
                self._mock.start()
            if self._spec is not None:
                self._world = seed_world(self._spec, self._seed_client)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and forget every resource; safe to call twice."""
        if LocalAws._running is not self:
            return
        try:
            extension_state().reset()
            if self._server is not None:
                self._server.stop()
            if self._mock is not None:
                self._mock.stop()
        finally:
            self._server, self._mock, self._endpoint_url = None, None, None
            self._credentials.clear()
            self._sessions.clear()
            self._seed_clients.clear()
            self._client_factory = None
            moto.reset_all_backends()
            for name, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_environment = {}
            LocalAws._running = None

    # what callers use

    @property
    def endpoint_url(self) -> str | None:
        """`http://127.0.0.1:PORT` in server mode; None in-process (botocore is intercepted)."""
        return self._endpoint_url

    @property
    def world(self) -> LoadedWorld:
        if self._world is None:
            raise RuntimeError("no world is loaded (start with a world file)")
        return self._world

    @property
    def faults(self) -> FaultInjector:
        """`configure([FaultRule(...)], seed=…)` / `clear()`; counters in `seen` / `injected`."""
        return extension_state().faults

    @property
    def deliveries(self) -> list[Delivery]:
        """Every connection notification handed to SNS since start, oldest first."""
        return extension_state().notifications.deliveries

    @property
    def delivery_failures(self) -> list[DeliveryFailure]:
        """SNS deliveries a subscription's endpoint refused since start (a queue deleted since,
        an HTTP endpoint down); the API calls that published them succeeded, as in AWS."""
        return extension_state().delivery_failures

    def set_notification_shape(self, shape: str | MessageShape) -> None:
        self._shape = shape_named(shape)
        extension_state().notifications.shape = self._shape

    def set_settle_seconds(self, seconds: float) -> None:
        self._settle_seconds = seconds
        extension_state().settle_seconds = seconds

    def set_refused_filters(self, names: Iterable[str]) -> None:
        """Refuse these DescribeVpcEndpointConnections filters from now on (empty: none)."""
        self._refused_filters = frozenset(names)
        extension_state().refused_filters = self._refused_filters

    def create_endpoints(self, names: Iterable[str] | None = None) -> list[EndpointInfo]:
        """Create the world's endpoints (all, or those named), each by its consumer."""
        return create_endpoints(self.world, self._seed_client, names)

    def credentials(self, account_id: str) -> dict[str, str]:
        """Temporary credentials of a role in `account_id` (AccessKeyId, SecretAccessKey,
        SessionToken), obtained with sts:AssumeRole like a person or a pipeline would."""
        with self._lock:
            found = self._credentials.get(account_id)
            if found is None:
                sts = self._factory().client(
                    "sts", endpoint_url=self._endpoint_url, config=CLIENT_CONFIG
                )
                issued = sts.assume_role(
                    RoleArn=role_arn(account_id), RoleSessionName=SESSION_NAME
                )["Credentials"]
                found = {
                    "AccessKeyId": issued["AccessKeyId"],
                    "SecretAccessKey": issued["SecretAccessKey"],
                    "SessionToken": issued["SessionToken"],
                }
                self._credentials[account_id] = found
            return found

    def session(self, account: str | None = None, region: str | None = None) -> boto3.Session:
        """A boto3 session acting as `account` (default: the world's provider). In server mode
        its clients need `endpoint_url=aws.endpoint_url` (`client()` adds it). Sessions are
        cached per account and region; like any boto3 session, create clients from one thread
        at a time (clients themselves are thread-safe)."""
        account_id = self._account(account)
        chosen_region = region or self._region(account_id)
        with self._lock:
            found = self._sessions.get((account_id, chosen_region))
            if found is None:
                found = self._boto3_session(self.credentials(account_id), chosen_region)
                self._sessions[(account_id, chosen_region)] = found
            return found

    def client(self, service: str, account: str | None = None, region: str | None = None) -> Any:
        """A client of `service` acting as `account` (default: the world's provider), with
        standard retries and, in server mode, the server's endpoint URL."""
        account_id = self._account(account)
        issued = self.credentials(account_id)
        with self._lock:
            return self._factory().client(
                service,  # type: ignore[call-overload]
                region_name=region or self._region(account_id),
                aws_access_key_id=issued["AccessKeyId"],
                aws_secret_access_key=issued["SecretAccessKey"],
                aws_session_token=issued["SessionToken"],
                endpoint_url=self._endpoint_url,
                config=CLIENT_CONFIG,
            )

    def env(self, account: str | None = None, region: str | None = None) -> dict[str, str]:
        """Environment variables that make code using boto3's defaults act as `account`."""
        account_id = self._account(account)
        issued = self.credentials(account_id)
        chosen_region = region or self._region(account_id)
        variables = {
            "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"],
            "AWS_DEFAULT_REGION": chosen_region,
            "AWS_REGION": chosen_region,
        }
        if self._endpoint_url:
            variables["AWS_ENDPOINT_URL"] = self._endpoint_url
        return variables

    def _factory(self) -> boto3.Session:
        """The session that makes every client (one botocore session is much faster to reuse
        than to build); it holds only the base credentials, each client gets its own."""
        with self._lock:
            if self._client_factory is None:
                self._client_factory = self._boto3_session(
                    {"AccessKeyId": BASE_ACCESS_KEY, "SecretAccessKey": BASE_SECRET_KEY},
                    DEFAULT_REGION,
                )
            return self._client_factory

    def _boto3_session(self, credentials: dict[str, str], region: str) -> boto3.Session:
        core = botocore.session.Session()
        core.register_component("data_loader", _shared_loader())
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
            region_name=region,
            botocore_session=core,
        )

    def _account(self, account: str | None) -> str:
        if account is not None:
            return account
        if self._spec is None:
            raise ValueError("no world is loaded: name the account")
        return self._spec.provider.account

    def _region(self, account_id: str) -> str:
        if self._spec is None:
            return DEFAULT_REGION
        known = {self._spec.provider.account, *(a.account for a in self._spec.accounts)}
        return self._spec.region_of(account_id) if account_id in known else self._spec.region

    def _seed_client(self, service: str, account: str, region: str) -> Any:
        key = (service, account, region)
        if key not in self._seed_clients:
            self._seed_clients[key] = self.client(service, account=account, region=region)
        return self._seed_clients[key]


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One loader for every session of the process: botocore parses each service model once."""
    return botocore.loaders.create_loader()


def refused_filters(world: World | None, variable: str) -> frozenset[str]:
    """The filters to refuse: the world's `refuse_filters` and the comma-separated variable."""
    from_world = set(world.refuse_filters) if world is not None else set()
    from_variable = {name.strip() for name in variable.split(",") if name.strip()}
    unknown = from_variable - set(FILTERS)
    if unknown:
        raise ValueError(
            f"{REFUSE_FILTERS_VARIABLE}: unknown filter(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(FILTERS))}"
        )
    return frozenset(from_world | from_variable)


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{ROLE_NAME}"
