"""The replay engine on the fixture application: wiring, batching, retries, dead letters."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from replay_helpers import ACCOUNT, MINI, REGION, mini_app, sns_event

from acceptor_tools.replay.deploy import DeployError
from acceptor_tools.replay.feeding import InjectError
from acceptor_tools.replay.session import Limits, ReplaySession

pytestmark = [pytest.mark.e2e, pytest.mark.disable_socket]

Start = Callable[..., ReplaySession]


def _calls(session: ReplaySession, function: str) -> list[Any]:
    return [i for i in session.replay.log.invocations if i.function == function]


def _table_items(session: ReplaySession) -> dict[str, dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    items = dynamodb.scan(TableName=session.app.tables["Table"].name)["Items"]
    return {item["id"]["S"]: item for item in items}


def test_sns_message_flows_through_bus_rule_queue_and_function_rule_to_outbox(
    mini_session: Start,
) -> None:
    session = mini_session()

    session.inject(sns_event({"id": "a1"}), source="test")
    log = session.run()

    assert log.quiet
    assert [i.function for i in log.invocations] == [
        "IngestFunction",
        "WorkFunction",
        "NotifyFunction",
    ]
    item = _table_items(session)["a1"]
    assert item["account"]["S"] == ACCOUNT  # the bus's account reached the queue's consumer
    assert [(m.subject, m.message) for m in log.outbox] == [
        ("Thing Done: a1", f"Thing Done for a1 in {ACCOUNT}")
    ]
    assert log.outbox[0].topic_arn == session.app.topics["PeopleTopic"].arn
    routes = {e.detail_type: e.delivered_to for e in log.bus_events.values()}
    assert routes == {"Thing Requested": ["WorkFunction"], "Thing Done": ["NotifyFunction"]}
    assert log.unrouted == []


def test_queue_consumer_gets_batches_of_the_event_source_batch_size(mini_session: Start) -> None:
    session = mini_session()
    for number in range(12):
        session.inject(sns_event({"id": f"t{number}"}), source="test")

    log = session.run()

    batches = [len(i.event["Records"]) for i in log.invocations if i.function == "WorkFunction"]
    assert batches == [5, 5, 2]  # BatchSize 5 with a batching window: full batches first
    assert {item["batch"]["N"] for item in _table_items(session).values()} == {"5", "2"}


def test_item_reported_failed_is_redelivered_until_redrive_moves_it_to_dead_letter_queue(
    mini_session: Start,
) -> None:
    session = mini_session()
    session.inject(sns_event({"id": "stubborn", "fail": 10}), source="test")
    session.inject(sns_event({"id": "late", "fail": 1}), source="test")
    session.inject(sns_event({"id": "fine"}), source="test")

    log = session.run()

    items = _table_items(session)
    assert set(items) == {"late", "fine"}
    assert items["late"]["received"]["N"] == "2"  # failed once, then done on redelivery
    (dead,) = log.dead_letters
    assert dead.queue == "WorkDeadLetterQueue"
    assert json.loads(dead.body)["detail"]["id"] == "stubborn"
    assert (dead.function, dead.error, dead.attempts) == (
        "WorkFunction",
        "reported in batchItemFailures",
        2,  # maxReceiveCount of the template's redrive policy
    )


def test_unparseable_sns_message_is_retried_then_sent_to_the_function_dead_letter_queue(
    mini_session: Start,
) -> None:
    session = mini_session()

    session.inject(sns_event("this is not JSON"), source="test")
    log = session.run()

    attempts = _calls(session, "IngestFunction")
    assert len(attempts) == 3  # Lambda's default: the call and two retries
    assert all(a.error is not None and a.error.type == "JSONDecodeError" for a in attempts)
    (dead,) = log.dead_letters
    assert dead.queue == "IngestDeadLetterQueue"
    # A DeadLetterConfig queue receives the event itself.
    assert json.loads(dead.body)["Records"][0]["Sns"]["Message"] == "this is not JSON"
    assert dead.function == "IngestFunction"
    assert dead.attempts == 3
    assert _calls(session, "WorkFunction") == []


def test_failing_async_function_sends_invocation_record_to_on_failure_destination(
    mini_session: Start,
) -> None:
    session = mini_session()

    session.inject(sns_event({"id": "boom", "explode": True}), source="test")
    log = session.run()

    assert len(_calls(session, "NotifyFunction")) == 2  # MaximumRetryAttempts: 1
    (dead,) = log.dead_letters
    assert dead.queue == "NotifyFailureQueue"
    record = json.loads(dead.body)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"]["detail"]["id"] == "boom"
    assert record["responsePayload"]["errorMessage"] == "notify exploded"
    assert log.outbox == []


def test_event_the_template_rules_do_not_match_is_reported_unrouted(
    mini_session: Start, tmp_path: Path
) -> None:
    broken = tmp_path / "template.yaml"
    text = MINI.read_text().replace("detail-type: [Thing Requested]", "detail-type: [Thing Asked]")
    broken.write_text(text)
    (tmp_path / "functions").symlink_to(MINI.parent / "functions")
    session = mini_session(mini_app(broken))

    session.inject(sns_event({"id": "lost"}), source="test")
    log = session.run()

    assert [i.function for i in log.invocations] == ["IngestFunction"]
    (unrouted,) = log.unrouted
    assert unrouted.detail_type == "Thing Requested"
    assert unrouted.event["detail"] == {"id": "lost"}


def test_invalid_event_pattern_fails_the_deploy_naming_the_rule(
    mini_session: Start, tmp_path: Path
) -> None:
    broken = tmp_path / "template.yaml"
    text = MINI.read_text().replace(
        "source: [mini]\n        detail-type: [Thing Requested]",
        "source: mini\n        detail-type: [Thing Requested]",
    )
    broken.write_text(text)
    (tmp_path / "functions").symlink_to(MINI.parent / "functions")

    with pytest.raises(DeployError, match=r"WorkRule \(event pattern\).*'source' must be"):
        mini_session(mini_app(broken))


def test_scheduled_event_runs_the_function_its_schedule_rule_targets(mini_session: Start) -> None:
    session = mini_session()
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2024-06-11T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {},
    }

    session.inject(scheduled, source="test")
    log = session.run()

    assert _calls(session, "SweepFunction")[0].event == scheduled
    assert set(_table_items(session)) == {"swept-0", "swept-1", "swept-2"}
    assert len(log.outbox) == 3


def test_bus_event_file_is_put_on_the_template_bus_and_routed_by_its_rules(
    mini_session: Start,
) -> None:
    session = mini_session()
    event = {
        "version": "0",
        "id": "0d2a7f6e-6c4b-4d7a-9a57-3a3c0e0b1b11",
        "detail-type": "Thing Failed",
        "source": "mini",
        "account": ACCOUNT,
        "time": "2024-06-11T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"id": "from-file"},
    }

    done = session.inject(event, source="test")
    log = session.run()

    assert done == "put 'Thing Failed' on bus mini-bus"
    (notify,) = _calls(session, "NotifyFunction")
    assert notify.event["detail"] == {"id": "from-file"}
    assert notify.event["account"] == ACCOUNT
    assert [m.subject for m in log.outbox] == ["Thing Failed: from-file"]


def test_sqs_event_file_is_sent_to_the_queue_of_its_event_source(mini_session: Start) -> None:
    session = mini_session()
    body = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Thing Requested",
        "source": "mini",
        "account": ACCOUNT,
        "time": "2024-06-11T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"id": "queued"},
    }
    sqs_event = {
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:210987654321:work",
                "awsRegion": "us-east-2",
            }
        ]
    }

    session.inject(sqs_event, source="test")
    session.run()

    assert set(_table_items(session)) == {"queued"}


def test_event_of_unknown_shape_is_refused_with_its_source(mini_session: Start) -> None:
    session = mini_session()

    with pytest.raises(InjectError, match=r"odd\.json: not an SNS, SQS"):
        session.inject({"hello": "world"}, source="odd.json")


def test_replay_that_hits_its_round_limit_says_it_is_not_quiet(mini_session: Start) -> None:
    session = mini_session()
    session.inject(sns_event({"id": "slow"}), source="test")

    log = session.run(Limits(max_rounds=1))

    assert not log.quiet
    assert log.rounds == 1


def test_environment_override_wins_over_the_template_value(mini_session: Start) -> None:
    session = mini_session(environment_overrides={"STAGE": "replayed"})

    environ = session.environments["WorkFunction"].environ

    assert environ["STAGE"] == "replayed"
    assert environ["TABLE_NAME"] == session.app.tables["Table"].name


def test_every_function_invocation_writes_its_log_file(mini_session: Start, tmp_path: Path) -> None:
    session = mini_session()
    session.inject(sns_event("not json"), source="test")

    session.run()

    log = (tmp_path / "logs" / "IngestFunction.log").read_text()
    assert sum(line.startswith("START RequestId") for line in log.splitlines()) == 3
    assert log.count("[ERROR] JSONDecodeError: Expecting value") == 3
    assert "Traceback (most recent call last)" in log


def test_aws_service_event_on_the_default_bus_does_not_wake_the_schedule_rule(
    mini_session: Start,
) -> None:
    session = mini_session()
    cloudtrail = {
        "version": "0",
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": ACCOUNT,
        "time": "2024-06-11T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"eventName": "AcceptVpcEndpointConnections"},
    }

    session.inject(cloudtrail, source="test")
    log = session.run()

    assert log.invocations == []  # in AWS a schedule rule matches no event
    assert [(e.bus, e.detail_type) for e in log.unrouted] == [
        ("default", "AWS API Call via CloudTrail")
    ]


def test_captured_sns_notification_is_published_to_the_template_topic(
    mini_session: Start,
) -> None:
    session = mini_session()
    captured = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:210987654321:inbox-in-production",
        "Message": json.dumps({"id": "captured"}),
        "Timestamp": "2024-06-11T12:00:00.000Z",
    }

    done = session.inject(captured, source="captured.json")
    session.run()

    assert done.startswith("published an SNS message to ")
    assert done.endswith(session.app.topics["InboxTopic"].arn)
    assert set(_table_items(session)) == {"captured"}
