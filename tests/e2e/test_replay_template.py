"""Reading a SAM template the way `sam deploy` does: extensions, transform, intrinsics."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
import yaml
from replay_helpers import ACCOUNT, MINI, REGION, TEMPLATE, mini_app

from acceptor_tools.replay.intrinsics import Resolver, TemplateError
from acceptor_tools.replay.template import load_app

pytestmark = [pytest.mark.e2e, pytest.mark.disable_socket]


def test_sam_events_become_the_resources_aws_creates() -> None:
    app = mini_app()

    (subscription,) = app.subscriptions
    assert subscription.protocol == "lambda"
    assert subscription.topic_arn == app.topics["InboxTopic"].arn
    assert subscription.endpoint == app.functions["IngestFunction"].arn
    (source,) = app.event_sources
    assert (source.function, source.batch_size, source.batching_window) == ("WorkFunction", 5, 2)
    assert source.report_failures
    assert source.queue_arn == app.queues["WorkQueue"].arn
    schedules = [r for r in app.rules if r.schedule]
    assert [(r.schedule, r.bus) for r in schedules] == [("rate(1 hour)", "default")]


def test_for_each_makes_one_rule_per_item_of_the_list_parameter() -> None:
    default = {r.logical_id: r.pattern for r in mini_app().rules if r.pattern}
    overridden = {r.logical_id for r in mini_app(parameter_overrides={"Kinds": "Done"}).rules}

    assert default["NotifyDoneRule"] == {"source": ["mini"], "detail-type": ["Thing Done"]}
    assert default["NotifyFailedRule"] == {"source": ["mini"], "detail-type": ["Thing Failed"]}
    assert "NotifyFailedRule" not in overridden
    assert "NotifyDoneRule" in overridden


def test_names_and_references_resolve_as_in_the_deployed_stack() -> None:
    app = mini_app()

    work = app.functions["WorkFunction"]
    queue = app.queues["WorkQueue"]
    assert app.topics["PeopleTopic"].name == "mini-people"  # !Sub ${AWS::StackName}-people
    assert queue.name.startswith("mini-WorkQueue-")
    assert work.environment["QUEUE_URL"] == (
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue.name}"
    )
    assert work.environment["BUS_NAME"] == "mini-bus"
    assert work.environment["TABLE_NAME"] == app.tables["Table"].name
    assert json.loads(queue.attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": app.queues["WorkDeadLetterQueue"].arn,
        "maxReceiveCount": 2,
    }
    assert app.functions["NotifyFunction"].on_failure == app.queues["NotifyFailureQueue"].arn
    assert app.functions["NotifyFunction"].max_retry_attempts == 1
    assert app.functions["IngestFunction"].dead_letter == app.queues["IngestDeadLetterQueue"].arn
    assert app.not_emulated["WorkErrors"] == "AWS::CloudWatch::Alarm"


def test_ref_to_a_type_the_replay_never_creates_does_not_read_its_properties() -> None:
    """Before the SAM transform a function's properties may name resources only the transform
    adds (its role): referring to the function still resolves, the role alone does not."""
    environment = {"ROLE": {"Fn::GetAtt": ["WorkFunctionRole", "Arn"]}}
    properties = {"Environment": {"Variables": environment}}
    function = {"Type": "AWS::Serverless::Function", "Properties": properties}
    template = {"Resources": {"WorkFunction": function}}
    resolver = Resolver(template, {}, account=ACCOUNT, region=REGION, stack="mini")

    name = resolver.resolve({"Fn::Sub": "${WorkFunction}"})

    assert name == resolver.physical("WorkFunction").ref
    assert re.fullmatch(r"mini-WorkFunction-[0-9A-F]{12}", name)
    with pytest.raises(TemplateError, match="'WorkFunctionRole' is not a resource"):
        resolver.resolve(properties)


def test_names_are_the_same_in_two_reads() -> None:
    assert mini_app().queues["WorkQueue"].name == mini_app().queues["WorkQueue"].name


def test_parameter_override_changes_conditions_and_values() -> None:
    prod = mini_app(parameter_overrides={"Stage": "prod", "BusName": "other", "SweepCount": 9})

    environment = prod.functions["WorkFunction"].environment
    assert environment["LOG_LEVEL"] == "WARNING"  # !If [IsProd, ...]
    assert environment["BUS_NAME"] == "other"
    assert prod.buses["Bus"].name == "other"


def test_parameters_that_break_a_template_rule_are_refused_with_its_description() -> None:
    with pytest.raises(TemplateError, match="rule ProdSweepsMore: prod sweeps more than three"):
        mini_app(parameter_overrides={"Stage": "prod"})


def test_parameter_value_outside_allowed_values_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"Stage='staging' not in \['test', 'prod'\]"):
        mini_app(parameter_overrides={"Stage": "staging"})


def test_override_of_an_undeclared_parameter_is_refused() -> None:
    with pytest.raises(TemplateError, match="undeclared parameters: \\['Stge'\\]"):
        mini_app(parameter_overrides={"Stge": "prod"})


def test_function_without_local_code_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(MINI.read_text().replace("CodeUri: functions/", "CodeUri: s3://b/k.zip"))

    with pytest.raises(TemplateError, match=r"CodeUri 's3://b/k\.zip' is not a local folder"):
        mini_app(template)


def test_template_the_sam_transform_rejects_is_refused_with_its_reason(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(MINI.read_text().replace("      Handler: miniapp.handlers.sweep\n", ""))
    (tmp_path / "functions").symlink_to(MINI.parent / "functions")

    with pytest.raises(TemplateError, match=r"SAM transform rejects.*SweepFunction"):
        mini_app(template)


def test_file_that_is_not_yaml_is_refused_naming_it(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  A: [\n")

    with pytest.raises(TemplateError, match=r"template\.yaml: cannot be read as a template"):
        mini_app(template)


def test_reading_a_template_leaves_yaml_as_the_rest_of_the_process_knows_it() -> None:
    mini_app()

    loaded = yaml.safe_load("a: {b: 1}\nwhen: 2024-06-11\n")

    assert type(loaded["a"]) is dict
    assert loaded["when"] == datetime.date(2024, 6, 11)


def test_outputs_that_give_a_function_url_name_the_function_behind_it() -> None:
    """What `acceptor local-aws serve --app` answers for the stack's URL outputs."""
    app = load_app(TEMPLATE, account=ACCOUNT, region=REGION)

    assert app.url_outputs == {
        "ApprovalUrl": "ApprovalFunction",
        "SlackInteractionUrl": "SlackInteractionFunction",
    }
    assert app.function_urls == {"ApprovalFunction": "AWS_IAM", "SlackInteractionFunction": "NONE"}
