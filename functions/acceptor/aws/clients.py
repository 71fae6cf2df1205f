"""Lazily built, cached boto3 clients, injected into every adapter.

Nothing is created at import time (moto must be active first, and cold starts pay for it):
`default_clients()` builds the session on first use, and tests or the local replay install their
own with `use_clients()`.
"""

from __future__ import annotations

import functools
import threading
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

# Assumed-role sessions last an hour and are reused across invocations of one execution
# environment while at least REUSE_MARGIN of it is left: building a client costs more than
# the calls a consumer account needs.
ROLE_SESSION_SECONDS = 3600
REUSE_MARGIN = timedelta(minutes=10)

PARTITIONS: tuple[tuple[str, str], ...] = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))


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


def partition_of(region: str) -> str:
    for prefix, partition in PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


class AwsClients:
    """The clients of one boto3 session, built on first use and cached per service and region."""

    def __init__(
        self, session: boto3.session.Session | None = None, *, config: Config = RETRY_CONFIG
    ) -> None:
        self._session = session
        self._config = config
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._assumed: dict[tuple[str, str | None], tuple[datetime, AwsClients]] = {}
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

    def assume_role(
        self,
        role_arn: str,
        *,
        session_name: str,
        external_id: str | None = None,
        now: datetime | None = None,
    ) -> AwsClients:
        """Clients acting as `role_arn`, reused while their credentials have time left.

        Raises botocore's ClientError; callers translate it.
        """
        key = (role_arn, external_id)
        moment = now or datetime.now(UTC)
        with self._lock:
            cached = self._assumed.get(key)
        if cached is not None and cached[0] - moment > REUSE_MARGIN:
            return cached[1]
        request: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if external_id:
            request["ExternalId"] = external_id
        credentials = self.sts().assume_role(**request)["Credentials"]
        session = new_session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )
        assumed = AwsClients(session, config=self._config)
        expiration = credentials["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        with self._lock:
            self._assumed[key] = (expiration, assumed)
        return assumed


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
