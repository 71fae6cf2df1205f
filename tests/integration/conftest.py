"""Fixtures for every integration test: the local AWS (moto + the PrivateLink extension).

- `local_aws`: in-process (moto's mock, no sockets), fresh for each test, the demo world
  (`events/world.yaml`) loaded, its endpoints not yet created (`local_aws.create_endpoints()`).
- `local_aws_server`: the same behind moto's server on 127.0.0.1 (free port); clients from
  `local_aws_server.client(...)` already point at it.
- `act_as(aws, account=None)`: makes boto3's defaults (environment credentials, region and, for
  the server, `AWS_ENDPOINT_URL`) act as an account, the provider by default; for code under test
  that builds its own clients.
- `demo_world` / `world_path`: the demo world parsed once per session / its file, for tests that
  start their own `LocalAws`.
- `clean_aws_environment`: no profile, key, endpoint or config file of the machine leaks in (the
  fixtures above use it).

Every test in this folder is marked `integration`, and the extension is installed once for the
session, so that tests using `moto.mock_aws` directly see the same moto whatever ran before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from acceptor_tools.local_aws import LocalAws, World, load_world
from acceptor_tools.local_aws.extension import install

REPOSITORY = Path(__file__).resolve().parents[2]
DEMO_WORLD = REPOSITORY / "events" / "world.yaml"

# Variables that would make boto3 or moto reach somewhere else than the local AWS, or choose
# the account for us.
_FOREIGN_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MOTO_ACCOUNT_ID",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def privatelink_extension() -> None:
    install()


@pytest.fixture
def world_path() -> Path:
    return DEMO_WORLD


@pytest.fixture(scope="session")
def demo_world() -> World:
    """The demo world, parsed once (a `World` is immutable)."""
    return load_world(DEMO_WORLD)


@pytest.fixture
def clean_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No profile, key, endpoint or config file of the machine leaks into the test."""
    for name in _FOREIGN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def local_aws(clean_aws_environment: None, demo_world: World) -> Iterator[LocalAws]:
    with LocalAws(demo_world) as aws:
        yield aws


@pytest.fixture
def local_aws_server(clean_aws_environment: None, demo_world: World) -> Iterator[LocalAws]:
    with LocalAws(demo_world, server=True) as aws:
        yield aws


ActAs = Callable[..., dict[str, str]]


@pytest.fixture
def act_as(monkeypatch: pytest.MonkeyPatch, clean_aws_environment: None) -> ActAs:
    def act(aws: LocalAws, account: str | None = None, region: str | None = None) -> dict[str, str]:
        variables = aws.env(account, region)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        return variables

    return act
