"""Fixtures of the replay's tests: the small fixture application on moto, no network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The X-Ray SDK creates a UDP socket (for a daemon it never reaches here: tracing is off) when
# Powertools' Tracer first imports it. Imported now, before the tests disable sockets, it is
# created once and shared by every replayed function, as one runtime shares it in Lambda.
import aws_xray_sdk.core  # noqa: F401
import pytest
from moto import mock_aws
from replay_helpers import MotoAccount, mini_app

from acceptor_tools.replay.app import App
from acceptor_tools.replay.session import ReplaySession


@pytest.fixture
def moto_account() -> Iterator[MotoAccount]:
    with mock_aws():
        yield MotoAccount()


@pytest.fixture
def mini_session(moto_account: MotoAccount, tmp_path: Path) -> Callable[..., ReplaySession]:
    def start(app: App | None = None, **options: Any) -> ReplaySession:
        return ReplaySession(app or mini_app(), moto_account, log_dir=tmp_path / "logs", **options)

    return start
