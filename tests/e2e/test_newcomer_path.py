"""A newcomer's first hour, run as they run it: the `acceptor` command in a subprocess, from a
folder of their own (README, docs/replay.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from replay_helpers import DEMO_POLICY, EVENTS, REPOSITORY, TEMPLATE, WORLD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ACCEPTOR = [sys.executable, "-m", "acceptor_tools.cli"]
SECONDS = 300.0


def _run(*arguments: str, cwd: Path = REPOSITORY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ACCEPTOR, *arguments],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))},
        capture_output=True,
        text=True,
        timeout=SECONDS,
        check=False,
    )


def _own_world(folder: Path) -> Path:
    """The demo world copied to a folder of the user's, with a policy folder beside it."""
    folder.mkdir(parents=True)
    world = folder / "world.yaml"
    shutil.copy(WORLD, world)
    policies = folder / "my-policies"
    policies.mkdir()
    shutil.copy(DEMO_POLICY, policies / "acceptor.yaml")
    return world


def test_a_world_outside_events_replays_its_own_story_with_no_demo_artifacts(
    tmp_path: Path,
) -> None:
    # Given a world and a policy folder of the user's, far from events/
    world = _own_world(tmp_path / "some" / "other" / "folder")

    # When they replay it as docs/replay.md says, from the folder of the template
    done = _run(
        "replay", "--world", str(world), "--policy", str(world.parent / "my-policies"),
        "--template", str(TEMPLATE), "--outbox", str(tmp_path / "outbox"), "--json",
    )  # fmt: skip

    # Then it runs, decides the world's requests, and carries none of the demo's own messages
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    summary = lines[-1]
    assert summary["decisions"] == {"accept": 3, "reject": 1, "hold": 1}
    assert (summary["failed_calls"], summary["dead_letters"]) == (0, 0)
    assert "nobody can read" not in done.stderr
    assert "cannot read" not in done.stderr


def test_a_policy_file_given_as_the_world_is_refused_as_not_a_world_file(tmp_path: Path) -> None:
    done = _run("replay", "--world", str(DEMO_POLICY), "--outbox", str(tmp_path / "outbox"))

    assert done.returncode == 1
    assert "not a world file (it looks like a policy file)" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_demo_story_reads_for_people_and_keeps_the_plumbing_behind_verbose(
    tmp_path: Path,
) -> None:
    common = ["replay", "--policy", str(DEMO_POLICY), "--outbox", str(tmp_path / "outbox")]

    plain = _run(*common)
    verbose = _run(*common, "-v")

    assert plain.returncode == verbose.returncode == 0, plain.stderr
    assert " <- " not in plain.stderr  # no function call lines by default
    assert "DecideFunction <- SQS" in verbose.stderr
    report = plain.stdout
    assert "told      ops, payments-team" in report  # channels, not only the topic
    # The held partner is released by a named person at the end of the demo
    assert "held      the policy held it: it waited in pendingAcceptance for a person" in report
    assert (
        "released  arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice decided it" in report
    )
    assert "pendingAcceptance when decided -> available now" in report  # no bare `? ->`
    assert "state     ?" not in report
    assert "vpce-0b3c4d5e6f7a89012  payments-status of payments-prod" in report  # auto-accepted
    assert "The unreadable message was sent on purpose: its 3 failed calls" in report
    assert "AccountNotFoundException" not in report  # hold reasons in words
    assert "account 777788889999 is not a member of this organization" in report


def test_an_event_file_holding_an_empty_list_says_it_held_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]\n")

    done = _run(
        "replay", str(empty), "--policy", str(DEMO_POLICY), "--outbox", str(tmp_path / "out")
    )

    assert done.returncode == 0, done.stderr
    assert f"{empty}: holds no event (an empty list): nothing fed" in done.stderr


def test_policy_diff_checks_its_paths_before_replaying_anything(tmp_path: Path) -> None:
    started = time.monotonic()

    done = _run("policy", "diff", "policies/", str(tmp_path / "missing"))

    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"acceptor policy diff: {tmp_path / 'missing'}: no such file or folder"
    )
    assert time.monotonic() - started < 30  # no replay ran first


def test_policy_diff_refuses_to_compare_a_replay_whose_calls_failed(tmp_path: Path) -> None:
    # Given events whose replay fails calls (a message nobody can read)
    unreadable = str(EVENTS / "ingest-sns-unparseable.json")

    # When two policies are compared on them
    done = _run(
        "policy", "diff", "policies/", str(DEMO_POLICY), "--events", unreadable,
        "--outbox", str(tmp_path / "outbox"), "--quiet",
    )  # fmt: skip

    # Then the diff fails loudly and reports no change
    assert done.returncode == 1
    assert "is not comparable: 3 failed calls (IngestFunction)" in done.stderr
    assert "Decisions that change" not in done.stdout


def test_each_run_empties_the_outbox_of_the_last_one(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    (outbox / "old").mkdir(parents=True)
    (outbox / "old" / "001-NotificationTopic.txt").write_text("from an earlier diff")
    (outbox / "logs").mkdir()
    (outbox / "logs" / "IngestFunction.log").write_text("START earlier run\n" * 1000)
    (outbox / "notes.md").write_text("mine")
    event = str(EVENTS / "ingest-sns-connect.json")

    done = _run("replay", event, "--policy", str(DEMO_POLICY), "--outbox", str(outbox), "--quiet")

    assert done.returncode == 0, done.stderr
    assert not (outbox / "old").exists()
    assert "earlier run" not in (outbox / "logs" / "IngestFunction.log").read_text()
    assert (outbox / "notes.md").read_text() == "mine"  # not the replay's: left alone


def test_ctrl_c_during_a_replay_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    # Started as from a terminal: a test run launched in the background inherits SIGINT
    # ignored, and so would the replay. A handler here becomes the default in the child.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [*ACCEPTOR, "replay", "--policy", str(DEMO_POLICY), "--outbox", str(tmp_path / "o")],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert process.stderr is not None
    first = process.stderr.readline()  # the replay has started
    assert first.strip().startswith("replaying"), first

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=SECONDS)

    assert process.returncode == 130
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert lines[-1].startswith("acceptor replay: interrupted (Ctrl-C) after ")
    assert stdout == ""


def test_version_and_bare_acceptor() -> None:
    version = _run("--version")
    bare = _run()

    assert version.returncode == 0
    assert version.stdout.strip().startswith("acceptor 0.")
    assert bare.returncode == 0
    assert bare.stdout.startswith("usage: acceptor")
    assert "replay" in bare.stdout


@pytest.mark.parametrize(
    ("command", "doc"),
    [
        (["policy", "check"], "docs/policy.md"),
        (["policy", "explain"], "docs/policy.md"),
        (["policy", "schema"], "docs/policy.md"),
        (["policy", "test"], "docs/policy.md"),
        (["policy", "diff"], "docs/replay.md"),
        (["local-aws", "serve"], "docs/local-aws.md"),
        (["replay"], "docs/replay.md"),
        (["approve"], "docs/operations.md"),
        (["reject"], "docs/operations.md"),
    ],
)
def test_every_command_help_shows_an_example_and_its_document(command: list[str], doc: str) -> None:
    done = _run(*command, "--help")

    assert done.returncode == 0
    assert "example" in done.stdout
    assert f"acceptor {' '.join(command)}" in done.stdout.split("example", 1)[1]
    assert doc in done.stdout


def test_output_into_a_reader_that_has_gone_ends_without_a_traceback() -> None:
    # Given a reader that stopped reading (as `| head` does) before the command writes: its
    # end of the pipe is closed at once, while the command is still starting
    acceptor = subprocess.Popen(
        [*ACCEPTOR, "policy", "schema"],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert acceptor.stdout is not None
    acceptor.stdout.close()

    # When it writes its output
    _, stderr = acceptor.communicate(timeout=SECONDS)

    # Then it stops quietly, with the exit status a shell gives a writer whose reader is gone
    assert b"Traceback" not in stderr, stderr.decode()
    assert acceptor.returncode == 141


def test_make_help_lists_every_target_of_the_makefile() -> None:
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:"))
    targets = phony.removeprefix(".PHONY:").split()

    done = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=SECONDS,
        check=False,
    )

    assert done.returncode == 0
    listed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("make ")}
    assert listed == set(targets)
