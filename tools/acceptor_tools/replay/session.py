"""One replay: the template's application deployed into a running local AWS, ready for events.

app = load_app(Path("template.yaml"), account=..., region=...)
with LocalAws(world) as aws:
    session = ReplaySession(app, aws, log_dir=Path("outbox/logs"))
    session.inject(json.loads(Path("events/x.json").read_text()), source="events/x.json")
    log = session.run()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from acceptor_tools.replay.app import App
from acceptor_tools.replay.deploy import Deployment, deploy
from acceptor_tools.replay.engine import Progress, Replay, ReplayLog
from acceptor_tools.replay.runtime import ExecutionEnvironment


class LocalAccount(Protocol):
    """The account the stack is deployed in, on the local AWS (`LocalAws` is one)."""

    def client(self, service: str) -> Any: ...

    def env(self) -> dict[str, str]:
        """Variables that make boto3's defaults reach this account on the local AWS."""
        ...


@dataclass(frozen=True)
class Limits:
    """When a replay stops waiting for the application to become quiet."""

    max_rounds: int = 200
    max_seconds: float = 60.0


class ReplaySession:
    def __init__(
        self,
        app: App,
        aws: LocalAccount,
        *,
        log_dir: Path,
        environment_overrides: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.app = app
        self.deployment: Deployment = deploy(app, aws)
        base = aws.env()
        self.environments: dict[str, ExecutionEnvironment] = {}
        for logical_id, spec in app.functions.items():
            environment = ExecutionEnvironment(
                spec, base_environ=base, log_path=log_dir / f"{logical_id}.log"
            )
            # Overrides win over the template's values: that is what they are for (--policy).
            environment.with_environment(dict(environment_overrides or {}))
            self.environments[logical_id] = environment
        self.replay = Replay(self.deployment, aws, self.environments, progress=progress)

    def inject(self, payload: Any, *, source: str) -> str:
        return self.replay.inject(payload, source=source)

    def run(self, limits: Limits | None = None) -> ReplayLog:
        limits = limits or Limits()
        return self.replay.run(max_rounds=limits.max_rounds, max_seconds=limits.max_seconds)
