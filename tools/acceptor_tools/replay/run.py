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
    unmanaged_services,
)
from acceptor_tools.replay.report import (
    PathDisplay,
    Report,
    UnmanagedEndpoint,
    build_report,
    write_outbox,
)

# The demo world and its unreadable message (a sample of events/), relative to the folder of
# the template: the message belongs to the demo world's story, not to every world's.
DEMO_WORLD = Path("events/world.yaml")
UNPARSEABLE_SAMPLE = Path("events/ingest-sns-unparseable.json")
# A network admin's `acceptor approve` of the held partner endpoint, as its function URL
# passes it (docs/operations.md, "Approving a held request"): the end of the demo world's story.
APPROVAL_SAMPLE = Path("events/approval-url-accept.json")


def read_event_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InjectError(f"{path}: cannot read: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise InjectError(f"{path}:{err.lineno}: not JSON: {err.msg}") from err


def replay_files(
    config: ReplayConfig,
    files: Sequence[Path],
    progress: Progress | None = None,
    plumbing: Progress | None = None,
    *,
    one_by_one: bool = False,
) -> Report:
    """Each file is put where AWS would receive it, in order; then the application runs. The
    world's endpoints exist already (created before the stack), so that the connections the
    files name are there to be decided. `one_by_one`: the application runs after each file,
    so that a file sees what the ones before it did (a story: a hold, then a person's accept).
    """
    payloads = [(path, read_event_file(path)) for path in files]

    def play(replay: LocalReplay, say: Progress) -> None:
        for path, payload in payloads:
            if _holds_nothing(payload):
                say(f"{path}: holds no event (an empty list): nothing fed")
                continue
            say(f"{path}: {replay.session.inject(payload, source=str(path))}")
            if one_by_one:
                replay.session.run(config.limits)
        replay.session.run(config.limits)

    return _replay(config, play, progress, plumbing, endpoints_first=True)


def _holds_nothing(payload: Any) -> bool:
    return isinstance(payload, list) and not payload


def is_demo_world(config: ReplayConfig) -> bool:
    """The world is the demo world of the checkout the template belongs to."""
    return config.world.resolve() == (config.template.resolve().parent / DEMO_WORLD).resolve()


def replay_demo(
    config: ReplayConfig,
    progress: Progress | None = None,
    plumbing: Progress | None = None,
    *,
    unreadable_message: bool = True,
) -> Report:
    """The story of a world: its consumers create their endpoints (each creation sends the
    provider's connection notification) and SNS delivers one of those notifications twice.
    The demo world's story adds a message nobody can read (`events/ingest-sns-unparseable.json`)
    and ends with a network admin approving the held request (`events/approval-url-accept.json`);
    any other world replays its own story only, and so does a policy diff
    (`unreadable_message=False`): the message decides nothing and only fails."""
    unparseable = None
    approval = None
    notes: list[str] = []
    if unreadable_message and is_demo_world(config):
        unparseable = read_event_file(config.template.resolve().parent / UNPARSEABLE_SAMPLE)
        approval = read_event_file(config.template.resolve().parent / APPROVAL_SAMPLE)

    def play(replay: LocalReplay, say: Progress) -> None:
        world = replay.aws.world
        for endpoint in replay.aws.create_endpoints():
            owner = world.accounts[endpoint.account].name
            say(
                f"{owner} ({endpoint.account}) creates endpoint {endpoint.name} "
                f"({endpoint.id}) to {endpoint.service}: {_state_in_words(endpoint.state)}"
            )
        duplicate = _first_delivery_to_the_stack(replay)
        if duplicate is not None:
            topic, message = duplicate
            say("SNS delivers the first connection notification a second time (at-least-once)")
            replay.aws.client("sns").publish(TopicArn=topic, Message=message)
        say(
            "the acceptor's functions run until nothing is left to do "
            "(acceptor replay -v shows each call)"
        )
        replay.session.run(config.limits)
        if unparseable is None:
            return
        say(
            f"a message nobody can read arrives ({UNPARSEABLE_SAMPLE}), on purpose: Ingest fails"
            " on it, is retried twice, and the message ends in a dead-letter queue for a person"
        )
        calls_before = len(replay.session.replay.log.invocations)
        replay.session.inject(unparseable, source=str(UNPARSEABLE_SAMPLE))
        replay.session.run(config.limits)
        failed = [i for i in replay.session.replay.log.invocations[calls_before:] if not i.ok]
        notes.append(
            f"The unreadable message was sent on purpose: its {len(failed)} failed calls and its"
            " dead letter show that Ingest never guesses. A real one waits in"
            " IngestDeadLetterQueue for a person (docs/operations.md)."
        )
        if approval is None:
            return
        approver = approval["requestContext"]["authorizer"]["iam"]["userArn"]
        body = json.loads(approval["body"])
        say(
            f"{approver} approves the held endpoint {body['endpoint_id']}: "
            f"acceptor approve --reason {body['reason']!r} ({APPROVAL_SAMPLE})"
        )
        replay.session.inject(approval, source=str(APPROVAL_SAMPLE))
        replay.session.run(config.limits)

    report = _replay(config, play, progress, plumbing)
    report.notes.extend(notes)
    return report


def _state_in_words(state: str) -> str:
    if state == "pendingAcceptance":
        return "pendingAcceptance (it waits until the provider accepts or rejects it)"
    if state == "available":
        return "available at once (the service does not require acceptance; nobody decides)"
    return state


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
    plumbing: Progress | None,
    *,
    endpoints_first: bool = False,
) -> Report:
    """`progress` hears the story (what the consumers and AWS do), `plumbing` every function
    call and its result."""
    say = progress or (lambda _: None)
    with local_replay(config, plumbing, endpoints_first=endpoints_first) as replay:
        app = replay.session.app
        before = security_group_rules(replay.aws)
        play(replay, say)
        log = replay.session.replay.log
        services = replay.aws.world.services.values()
        unmanaged_ids = unmanaged_services(replay.aws, config.parameters)
        paths = PathDisplay.for_policy(config.policy)
        files = write_outbox(log.outbox, app, config.outbox, paths)
        # Endpoints of services that accept by themselves and that the stack does not manage:
        # nobody decides them, so they are listed apart (an untagged service that requires
        # acceptance is reported among the connections, as unmanaged).
        self_accepting = {s.id for s in services if not s.acceptance_required}
        unmanaged = [
            UnmanagedEndpoint(
                endpoint_id=e.id,
                name=e.name,
                account=e.account,
                service=e.service,
                service_id=e.service_id,
                state=e.state,
            )
            for e in replay.aws.world.endpoints.values()
            if e.service_id in unmanaged_ids and e.service_id in self_accepting
        ]
        return build_report(
            log,
            app,
            groups_before=before,
            groups_after=security_group_rules(replay.aws),
            # Services that accept every connection by themselves have nothing to report.
            states=connection_states(
                replay.aws,
                [s.id for s in services if s.acceptance_required or s.id not in unmanaged_ids],
            ),
            outbox_files=files,
            labels=labels(replay.aws),
            paths=paths,
            unmanaged_services=unmanaged_ids,
            unmanaged=unmanaged,
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
