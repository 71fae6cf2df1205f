"""The acceptor's stack on the in-process local AWS, with the demo world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from handlers_stack import Stack

from acceptor.aws.clients import use_clients
from acceptor.policy.loader import cached_policy
from acceptor_tools.local_aws import LocalAws


@pytest.fixture
def stack(local_aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield Stack(local_aws, tmp_path, monkeypatch.setenv)
    use_clients(None)
    cached_policy.cache_clear()
