"""Lazily built, cached boto3 clients, injected into every adapter.

Nothing is created at import time (moto must be active first, and cold starts pay for it):
`default_clients()` builds the session on first use, and tests or the local replay install their
own with `use_clients()`.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sts import STSClient

RETRY_CONFIG = Config(retries={"mode": "standard"})

# Assumed-role credentials last an hour and are reused across invocations of one execution
# environment while at least REUSE_MARGIN of it is left. Only the credentials are kept (a few
# hundred bytes each, at most MAX_ROLE_CREDENTIALS roles, least recently used dropped first),
# never the clients built from them: a boto3 client costs about a megabyte, and a sweep reaches
# thousands of consumer accounts (docs/architecture.md, "Memory").
ROLE_SESSION_SECONDS = 3600
REUSE_MARGIN = timedelta(minutes=10)
MAX_ROLE_CREDENTIALS = 2000


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def new_session(**arguments: Any) -> boto3.session.Session:
    """A boto3 session sharing one model loader with every other session of this process:
    each consumer account gets its own session, and parsing the EC2 model again for each
    would cost more than the calls."""
    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=core, **arguments)


@functools.cache
def partition_of(region: str) -> str:
    """The partition of `region` (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, ...), from botocore's
    endpoint data. A region no partition claims raises botocore's `UnknownRegionError`."""
    return new_session().get_partition_for_region(region)


class AwsClients:
    """The clients of one boto3 session, built on first use and cached per service and region."""

    def __init__(
        self, session: boto3.session.Session | None = None, *, config: Config = RETRY_CONFIG
    ) -> None:
        self._session = session
        self._config = config
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._credentials: OrderedDict[tuple[str, str | None], _Credentials] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def session(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                self._session = new_session()
            return self._session

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise RuntimeError("no AWS region configured (AWS_REGION is not set)")
        return region

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        with self._lock:
            built = self._clients.get(key)
        if built is None:
            # The stubs type each service by a Literal name; this factory serves them all.
            built = self.session.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                config=self._config,
            )
            with self._lock:
                built = self._clients.setdefault(key, built)
        return built

    def ec2(self, region: str | None = None) -> EC2Client:
        return cast("EC2Client", self.client("ec2", region))

    def events(self) -> EventBridgeClient:
        return cast("EventBridgeClient", self.client("events"))

    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self.client("dynamodb"))

    def sts(self) -> STSClient:
        return cast("STSClient", self.client("sts"))

    def organizations(self) -> OrganizationsClient:
        return cast("OrganizationsClient", self.client("organizations"))

    def close(self) -> None:
        """Close the HTTP connections of every client built so far (they reconnect if used
        again). A lookup through an assumed role ends with this, and then drops the clients."""
        with self._lock:
            built = list(self._clients.values())
        for client in built:
            client.close()

    def assume_role(
        self,
        role_arn: str,
        *,
        session_name: str,
        external_id: str | None = None,
        now: datetime | None = None,
    ) -> AwsClients:
        """New clients acting as `role_arn`, from credentials reused while they have time left.

        The caller uses them for one lookup, then closes and drops them: nothing here keeps
        them. Raises botocore's ClientError; callers translate it.
        """
        key = (role_arn, external_id)
        moment = now or datetime.now(UTC)
        with self._lock:
            cached = self._credentials.get(key)
            if cached is not None:
                self._credentials.move_to_end(key)
        if cached is None or cached.expiration - moment <= REUSE_MARGIN:
            cached = self._assume(role_arn, session_name, external_id)
            with self._lock:
                self._credentials[key] = cached
                self._credentials.move_to_end(key)
                while len(self._credentials) > MAX_ROLE_CREDENTIALS:
                    self._credentials.popitem(last=False)
        session = new_session(
            aws_access_key_id=cached.access_key_id,
            aws_secret_access_key=cached.secret_access_key,
            aws_session_token=cached.session_token,
            region_name=self.region,
        )
        return AwsClients(session, config=self._config)

    def _assume(self, role_arn: str, session_name: str, external_id: str | None) -> _Credentials:
        request: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if external_id:
            request["ExternalId"] = external_id
        credentials = self.sts().assume_role(**request)["Credentials"]
        expiration = credentials["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return _Credentials(
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
            expiration=expiration,
        )


@dataclass(frozen=True, slots=True)
class _Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


_default: AwsClients | None = None
_default_lock = threading.Lock()


def default_clients() -> AwsClients:
    global _default
    with _default_lock:
        if _default is None:
            _default = AwsClients()
        return _default


def use_clients(clients: AwsClients | None) -> None:
    """Install the clients every handler uses (None: build the default again on next use)."""
    global _default
    with _default_lock:
        _default = clients
