"""Managed services by tag, through template.yaml's wiring: a world of 50 tagged services and 2
untagged ones replays with every pending connection of the 50 decided and each of them given
the stack's connection notification; the untagged ones are left alone and reported unmanaged.
Adding a service is one tag: the next sweep notifies and decides it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from replay_helpers import TEMPLATE

from acceptor.flows.managed import MAX_CHANGES
from acceptor.managed import MANAGED_TAG
from acceptor_tools.replay.local import (
    LocalReplay,
    ReplayConfig,
    connection_states,
    local_replay,
    schedule_event,
    unmanaged_services,
)
from acceptor_tools.replay.session import Limits

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.disable_socket]

TAGGED, UNTAGGED = 50, 2
PROVIDER, CONSUMER = "999988887777", "111122223333"
POLICY = """\
version: 1
services: ["*"]
default: hold
rules:
  - name: the-consumer
    decision: accept
    when: {accounts: ["111122223333"]}
"""


def service_id(number: int) -> str:
    return f"vpce-svc-{number:017x}"


def world(path: Path) -> Path:
    """One provider with 52 services (one NLB each), one consumer with an endpoint to each."""
    total = TAGGED + UNTAGGED
    names = [f"svc{n:02d}" for n in range(total)]
    spec: dict[str, Any] = {
        "version": 1,
        "region": "us-east-1",
        "seed": 13,
        "provider": {
            "account": PROVIDER,
            "vpcs": [
                {
                    "name": "provider",
                    "cidr": "10.0.0.0/16",
                    "subnets": [{"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"}],
                }
            ],
            "load_balancers": [
                {"name": f"{name}-nlb", "vpc": "provider", "subnets": ["a"]} for name in names
            ],
            "services": [
                {
                    "name": name,
                    "id": service_id(n + 1),
                    "load_balancers": [f"{name}-nlb"],
                    "tags": {MANAGED_TAG: "true"} if n < TAGGED else {"app": "not-ours"},
                }
                for n, name in enumerate(names)
            ],
        },
        "accounts": [
            {
                "account": CONSUMER,
                "name": "consumer",
                "vpcs": [
                    {
                        "name": "consumer",
                        "cidr": "10.10.0.0/16",
                        "subnets": [{"name": "a", "cidr": "10.10.1.0/24"}],
                    }
                ],
            }
        ],
        "endpoints": [
            {"name": f"to-{name}", "account": CONSUMER, "vpc": "consumer", "service": name}
            for name in names
        ],
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Played:
    replay: LocalReplay
    states: dict[str, dict[str, Any]]
    decided: dict[str, str]
    notified: dict[str, list[str]]
    topic: str
    first_notified: int = 0


def _look(replay: LocalReplay) -> Played:
    ec2 = replay.aws.client("ec2")
    services = [service_id(n + 1) for n in range(TAGGED + UNTAGGED)]
    topic = replay.session.app.functions["ReconcileFunction"].environment["CONNECTION_TOPIC_ARN"]
    notified: dict[str, list[str]] = {}
    for page in ec2.get_paginator("describe_vpc_endpoint_connection_notifications").paginate():
        for item in page["ConnectionNotificationSet"]:
            notified.setdefault(item["ServiceId"], []).append(item["ConnectionNotificationArn"])
    decided: dict[str, str] = {}
    for event in replay.session.replay.log.bus_events.values():
        detail = event.event.get("detail") or {}
        if event.detail_type == "Endpoint Connection Decided":
            decided[detail["service_id"]] = detail["decision"]
    return Played(replay, connection_states(replay.aws, services), decided, notified, topic)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    folder = tmp_path_factory.mktemp("managed")
    (folder / "policy.yaml").write_text(POLICY, encoding="utf-8")
    config = ReplayConfig(
        template=TEMPLATE,
        world=world(folder / "world.yaml"),
        policy=folder / "policy.yaml",
        outbox=folder / "outbox",
        limits=Limits(max_seconds=300),
    )
    with local_replay(config) as replay:
        # The first sweep at deploy created MAX_CHANGES notifications; the consumers connect;
        # the schedule's next sweep creates the rest and requests what no notification told.
        first = _look(replay)
        replay.aws.create_endpoints()
        replay.session.run(config.limits)
        _sweep(replay, "second-sweep")
        played = _look(replay)
        played.first_notified = len(first.notified)
        yield played


def _sweep(replay: LocalReplay, event_id: str) -> None:
    world = replay.aws.world
    replay.session.inject(
        schedule_event(world.provider_account, world.region, event_id), source=event_id
    )
    replay.session.run(Limits(max_seconds=300))


def test_every_tagged_service_gets_one_notification_to_the_stacks_topic(played: Played) -> None:
    ours = {s: t for s, t in played.notified.items() if played.topic in t}

    assert played.first_notified == MAX_CHANGES  # bounded per run

    assert sorted(ours) == [service_id(n + 1) for n in range(TAGGED)]
    assert all(t == [played.topic] for t in ours.values())


def test_every_pending_connection_of_the_tagged_services_is_decided(played: Played) -> None:
    tagged = {service_id(n + 1) for n in range(TAGGED)}
    states = {item["ServiceId"]: item["VpcEndpointState"] for item in played.states.values()}

    assert set(played.decided) == tagged
    assert set(played.decided.values()) == {"accept"}
    assert {states[s] for s in tagged} == {"available"}


def test_untagged_services_are_left_alone_and_reported_unmanaged(played: Played) -> None:
    untagged = [service_id(TAGGED + n + 1) for n in range(UNTAGGED)]
    states = {item["ServiceId"]: item["VpcEndpointState"] for item in played.states.values()}

    assert unmanaged_services(played.replay.aws, {}) == untagged
    assert [states[s] for s in untagged] == ["pendingAcceptance"] * UNTAGGED
    assert not set(untagged) & set(played.notified)
    assert not set(untagged) & set(played.decided)


def test_adding_a_service_is_one_tag_and_the_next_sweep_picks_it_up(played: Played) -> None:
    # Given an untagged service with a pending connection
    added = service_id(TAGGED + 1)
    replay = played.replay
    # When the provider tags it, and the schedule's next sweep runs
    replay.aws.client("ec2").create_tags(
        Resources=[added], Tags=[{"Key": MANAGED_TAG, "Value": "true"}]
    )
    _sweep(replay, "next-sweep")
    after = _look(replay)

    # Then it has the stack's notification and its connection was accepted
    assert after.notified[added] == [after.topic]
    assert after.decided[added] == "accept"
    assert unmanaged_services(replay.aws, {}) == [service_id(TAGGED + 2)]
