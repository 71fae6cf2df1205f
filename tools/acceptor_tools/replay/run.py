"""Whole replays: event files, or the demo story of the world, each ending in a report."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acceptor_tools.replay.engine import Progress
from acceptor_tools.replay.feeding import InjectError
from acceptor_tools.replay.local import (
    LocalReplay,
    ReplayConfig,
    connection_states,
    labels,
    local_replay,
    security_group_rules,
)
from acceptor_tools.replay.report import PathDisplay, Report, build_report, write_outbox

# The demo's unreadable message: a sample of events/, next to the demo world.
UNPARSEABLE_SAMPLE = "ingest-sns-unparseable.json"
# A network admin's `acceptor approve` of the held partner endpoint, as its function URL
# passes it (docs/operations.md, "Approving a held request").
APPROVAL_SAMPLE = "approval-url-accept.json"


def read_event_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InjectError(f"{path}: cannot read: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise InjectError(f"{path}:{err.lineno}: not JSON: {err.msg}") from err


def replay_files(
    config: ReplayConfig, files: Sequence[Path], progress: Progress | None = None
) -> Report:
    """Each file is put where AWS would receive it, in order; then the application runs. The
    world's endpoints exist already (created before the stack), so that the connections the
    files name are there to be decided."""
    payloads = [(path, read_event_file(path)) for path in files]

    def play(replay: LocalReplay, say: Progress) -> None:
        for path, payload in payloads:
            say(f"{path}: {replay.session.inject(payload, source=str(path))}")
        replay.session.run(config.limits)

    return _replay(config, play, progress, endpoints_first=True)


def replay_demo(config: ReplayConfig, progress: Progress | None = None) -> Report:
    """The story of the demo world: its consumers create their endpoints (each creation sends
    the provider's connection notification), SNS delivers one of those notifications twice,
    a message nobody can read arrives, and a network admin approves the held request."""
    unparseable = read_event_file(config.world.parent / UNPARSEABLE_SAMPLE)
    approval = read_event_file(config.world.parent / APPROVAL_SAMPLE)

    def play(replay: LocalReplay, say: Progress) -> None:
        world = replay.aws.world
        for endpoint in replay.aws.create_endpoints():
            owner = world.accounts[endpoint.account].name
            say(
                f"{owner} ({endpoint.account}) creates endpoint {endpoint.name} "
                f"({endpoint.id}) to {endpoint.service}: {endpoint.state}"
            )
        duplicate = _first_delivery_to_the_stack(replay)
        if duplicate is not None:
            topic, message = duplicate
            say("SNS delivers the first connection notification a second time (at-least-once)")
            replay.aws.client("sns").publish(TopicArn=topic, Message=message)
        replay.session.run(config.limits)
        say(f"a message nobody can read arrives ({UNPARSEABLE_SAMPLE})")
        replay.session.inject(unparseable, source=UNPARSEABLE_SAMPLE)
        replay.session.run(config.limits)
        approver = approval["requestContext"]["authorizer"]["iam"]["userArn"]
        body = json.loads(approval["body"])
        say(
            f"{approver} approves the held endpoint {body['endpoint_id']}: "
            f"acceptor approve --reason {body['reason']!r} ({APPROVAL_SAMPLE})"
        )
        replay.session.inject(approval, source=APPROVAL_SAMPLE)
        replay.session.run(config.limits)

    return _replay(config, play, progress)


def _first_delivery_to_the_stack(replay: LocalReplay) -> tuple[str, str] | None:
    subscribed = {topic for topic, _ in replay.session.deployment.subscriptions}
    for delivery in replay.aws.deliveries:
        if delivery.topic_arn in subscribed and delivery.event.event_type == "Connect":
            return delivery.topic_arn, delivery.message
    return None


def _replay(
    config: ReplayConfig,
    play: Callable[[LocalReplay, Progress], None],
    progress: Progress | None,
    *,
    endpoints_first: bool = False,
) -> Report:
    say = progress or (lambda _: None)
    with local_replay(config, progress, endpoints_first=endpoints_first) as replay:
        app = replay.session.app
        before = security_group_rules(replay.aws)
        play(replay, say)
        log = replay.session.replay.log
        managed = [n.service_id for n in app.connection_notifications] or [
            s.id for s in replay.aws.world.services.values() if s.acceptance_required
        ]
        paths = PathDisplay.for_policy(config.policy)
        files = write_outbox(log.outbox, app, config.outbox, paths)
        return build_report(
            log,
            app,
            groups_before=before,
            groups_after=security_group_rules(replay.aws),
            states=connection_states(replay.aws, managed),
            outbox_files=files,
            labels=labels(replay.aws),
            paths=paths,
        )


@dataclass(frozen=True)
class Change:
    """A connection whose decision differs between two policies."""

    endpoint_id: str
    account: str | None
    before: str | None
    after: str | None
    rule_before: str | None
    rule_after: str | None


def decision_changes(old: Report, new: Report) -> list[Change]:
    before = {c.endpoint_id: c for c in old.connections}
    after = {c.endpoint_id: c for c in new.connections}
    changes = []
    for endpoint_id in sorted(set(before) | set(after)):
        a, b = before.get(endpoint_id), after.get(endpoint_id)
        decision_a = a.decision if a else None
        decision_b = b.decision if b else None
        if decision_a != decision_b:
            changes.append(
                Change(
                    endpoint_id=endpoint_id,
                    account=(b.account if b else None) or (a.account if a else None),
                    before=decision_a,
                    after=decision_b,
                    rule_before=a.rule if a else None,
                    rule_after=b.rule if b else None,
                )
            )
    return changes
