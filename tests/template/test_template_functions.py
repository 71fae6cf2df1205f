"""The functions of template.yaml: code, settings, failure paths, logs, alarms, dashboard."""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest
from sam_template import (
    ROOT,
    environment,
    function_property,
    functions,
    load,
    resources,
    stack_resolver,
)

from acceptor.settings import BY_FUNCTION, PolicySettings

pytestmark = pytest.mark.disable_socket

FUNCTIONS = (
    "IngestFunction",
    "ReconcileFunction",
    "DecideFunction",
    "SecurityGroupsFunction",
    "NotifyFunction",
    "ApprovalFunction",
    "SlackInteractionFunction",
)
# Invoked asynchronously (by SNS, a schedule or a bus rule): Lambda's retries and an on-failure
# destination are theirs. Decide reads a queue instead (retries and DLQ are the queue's).
ASYNC_FUNCTIONS = (
    "IngestFunction",
    "ReconcileFunction",
    "SecurityGroupsFunction",
    "NotifyFunction",
)
ASYNC_EVENTS = {"SNS", "Schedule", "EventBridgeRule"}
# Powertools reads these itself; every other variable is a field of the function's settings.
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def _ref_target(value: Any) -> str:
    """The logical ID an intrinsic points at: !Ref X, !GetAtt X.Attr, !Sub "...${X}..."."""
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    raise AssertionError(f"not a reference: {value}")


def test_the_template_has_the_functions_of_the_contract(template: dict[str, Any]) -> None:
    assert sorted(functions(template)) == sorted(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_module_exists_under_the_code_uri_and_defines_the_handler(
    template: dict[str, Any], function: str
) -> None:
    code_uri = function_property(template, function, "CodeUri")
    module, attribute = function_property(template, function, "Handler").rsplit(".", 1)

    source = ROOT / code_uri / (module.replace(".", "/") + ".py")
    assert source.is_file(), f"{function}: no {source.relative_to(ROOT)}"
    names = {
        node.name
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.FunctionDef)
    }
    assert attribute in names, f"{source.relative_to(ROOT)} defines no {attribute}()"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_runs_python_3_13_on_arm64_with_tracing(
    template: dict[str, Any], function: str
) -> None:
    assert function_property(template, function, "Runtime") == "python3.13"
    assert function_property(template, function, "Architectures") == ["arm64"]
    assert function_property(template, function, "Tracing") == "Active"
    assert function_property(template, function, "CodeUri") == "functions/"


def test_every_function_has_a_settings_model_of_its_own() -> None:
    assert sorted(BY_FUNCTION) == sorted(FUNCTIONS)
    assert len(set(BY_FUNCTION.values())) == len(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_environment_variables_are_exactly_the_fields_of_the_functions_settings(
    template: dict[str, Any], function: str
) -> None:
    fields = {field.alias for field in BY_FUNCTION[function].model_fields.values()}

    variables = set(environment(template, function)) - POWERTOOLS

    assert variables - fields == set(), "set by the template, read by no field"
    assert fields - variables == set(), "a field the template never sets"


def test_powertools_metrics_land_where_the_dashboard_and_alarms_look(
    template: dict[str, Any],
) -> None:
    variables = environment(template, "DecideFunction")

    assert variables["POWERTOOLS_SERVICE_NAME"] == "privatelink-acceptor"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "PrivateLinkAcceptor"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_is_built_by_the_makefile_that_ships_bytecode_for_its_architecture(
    template: dict[str, Any], function: str
) -> None:
    metadata = template["Resources"][function]["Metadata"]
    makefile = (ROOT / "functions" / "Makefile").read_text()

    assert metadata["BuildMethod"] == "makefile"
    assert function in makefile.split("FUNCTIONS :=", 1)[1].splitlines()[0].split()
    assert "--invalidation-mode unchecked-hash" in makefile
    assert metadata["BuildArchitecture"] == "arm64"
    assert function_property(template, function, "Architectures") == ["arm64"]
    assert "PLATFORM ?= manylinux2014_aarch64" in makefile


@pytest.mark.parametrize(
    "function",
    [name for name, model in BY_FUNCTION.items() if issubclass(model, PolicySettings)],
)
def test_function_that_reads_the_policy_reads_it_from_the_bundled_layer(
    template: dict[str, Any], function: str
) -> None:
    layer = template["Resources"]["PolicyLayer"]

    assert environment(template, function)["POLICY_PATH"] == "/opt/policies"
    assert {"Ref": "PolicyLayer"} in function_property(template, function, "Layers")
    assert layer["Properties"]["ContentUri"] == "policies/"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert (ROOT / layer["Metadata"]["ContextPath"] / "Makefile").is_file()


def test_decide_gets_the_tables_and_the_settings_of_its_facts(template: dict[str, Any]) -> None:
    variables = environment(template, "DecideFunction")

    assert variables["DECISION_TABLE"] == {"Ref": "DecisionTable"}
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert variables["CONSUMER_ROLE_EXTERNAL_ID"] == {"Ref": "ExternalId"}


@pytest.mark.parametrize("function", ASYNC_FUNCTIONS)
def test_asynchronously_invoked_function_has_retries_and_an_sqs_on_failure_destination(
    template: dict[str, Any], function: str
) -> None:
    properties = template["Resources"][function]["Properties"]
    invoke = properties["EventInvokeConfig"]

    assert {e["Type"] for e in properties["Events"].values()} <= ASYNC_EVENTS
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2
    destination = _ref_target(invoke["DestinationConfig"]["OnFailure"]["Destination"])
    assert template["Resources"][destination]["Type"] == "AWS::SQS::Queue"


def test_undeliverable_notifications_and_sweeps_have_dead_letter_queues(
    template: dict[str, Any],
) -> None:
    notification = template["Resources"]["IngestFunction"]["Properties"]["Events"]["Notification"]
    sweep = template["Resources"]["ReconcileFunction"]["Properties"]["Events"]["Sweep"]

    redrive = notification["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    assert _ref_target(redrive) == "IngestDeadLetterQueue"
    assert _ref_target(sweep["Properties"]["DeadLetterConfig"]["Arn"]) == "ReconcileDeadLetterQueue"


@pytest.mark.parametrize("function", ["SecurityGroupsFunction", "NotifyFunction"])
def test_bus_rules_of_a_function_retry_and_dead_letter_to_a_queue_that_lets_them_in(
    template: dict[str, Any], function: str
) -> None:
    events = template["Resources"][function]["Properties"]["Events"]
    policies = resources(template, "AWS::SQS::QueuePolicy").values()

    for name, event in events.items():
        rule = event["Properties"]
        queue = _ref_target(rule["DeadLetterConfig"]["Arn"])
        assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
        admitted = [
            condition
            for policy in policies
            if _ref_target(policy["Properties"]["Queues"][0]) == queue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            for condition in statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        ]
        # SAM names the rule it generates for an event <Function><EventName>.
        assert {"Fn::GetAtt": [f"{function}{name}", "Arn"]} in admitted


def test_security_groups_acts_on_decisions_and_on_connections_that_end(
    template: dict[str, Any],
) -> None:
    events = template["Resources"]["SecurityGroupsFunction"]["Properties"]["Events"]
    patterns = {name: event["Properties"]["Pattern"] for name, event in events.items()}

    assert patterns["Decided"]["detail-type"] == ["Endpoint Connection Decided"]
    assert sorted(patterns["Decided"]["detail"]["decision"]) == ["accept", "reject"]
    assert patterns["ConnectionEnded"]["detail-type"] == ["Endpoint Connection State Changed"]
    assert {"rejected", "deleted"} <= set(patterns["ConnectionEnded"]["detail"]["state"])
    assert all(p["source"] == ["privatelink-acceptor"] for p in patterns.values())
    for event in events.values():
        assert event["Properties"]["EventBusName"] == {"Ref": "EventBus"}


def test_security_groups_gets_its_rule_table_and_the_consumer_role(
    template: dict[str, Any],
) -> None:
    variables = environment(template, "SecurityGroupsFunction")
    table = template["Resources"]["SecurityGroupRuleTable"]

    assert variables["SECURITY_GROUP_RULE_TABLE"] == {"Ref": "SecurityGroupRuleTable"}
    assert variables["CONSUMER_ROLE_EXTERNAL_ID"] == {"Ref": "ExternalId"}
    assert table["DeletionPolicy"] == "Retain"
    assert "TimeToLiveSpecification" not in table["Properties"]


def test_notify_hears_every_event_of_the_bus_and_cloudtrail_calls_on_the_default_bus(
    template: dict[str, Any],
) -> None:
    events = template["Resources"]["NotifyFunction"]["Properties"]["Events"]
    decisions = events["Decisions"]["Properties"]
    overrides = events["ManualOverrides"]["Properties"]

    assert decisions["EventBusName"] == {"Ref": "EventBus"}
    assert sorted(decisions["Pattern"]["detail-type"]) == [
        "Endpoint Connection Decided",
        "Endpoint Connection Security Groups Updated",
        "Endpoint Connection State Changed",
    ]
    assert "EventBusName" not in overrides  # the default bus, where CloudTrail events arrive
    assert overrides["Pattern"]["detail-type"] == ["AWS API Call via CloudTrail"]
    assert sorted(overrides["Pattern"]["detail"]["eventName"]) == [
        "AcceptVpcEndpointConnections",
        "ModifyVpcEndpointServicePermissions",
        "RejectVpcEndpointConnections",
    ]


def test_notify_knows_the_roles_that_accept_and_reject_for_the_acceptor(
    template: dict[str, Any],
) -> None:
    variables = environment(template, "NotifyFunction")

    assert variables["ACCEPTOR_ROLE_ARNS"] == {"Fn::GetAtt": ["DecideFunctionRole", "Arn"]}
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert variables["NOTIFICATION_TOPIC_ARN"] == {"Ref": "NotificationTopic"}


def test_decide_reads_the_queue_in_batches_and_reports_partial_failures(
    template: dict[str, Any],
) -> None:
    assert "Events" not in template["Resources"]["DecideFunction"]["Properties"]
    mapping = template["Resources"]["DecideFunctionRequested"]
    source = mapping["Properties"]

    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert _ref_target(source["EventSourceArn"]) == "DecideQueue"
    assert source["FunctionName"] == {"Ref": "DecideFunction"}
    # A sweep decided in one or two batches (accept/reject calls grow with services); the
    # window gathers it, and stays short enough that a single request waits half a minute.
    assert source["BatchSize"] >= 1000
    assert 1 <= source["MaximumBatchingWindowInSeconds"] <= 30
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_decide_queue_outlasts_six_function_timeouts_and_dead_letters_after_retries(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["DecideQueue"]["Properties"]
    timeout = function_property(template, "DecideFunction", "Timeout")

    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert _ref_target(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "DecideDeadLetterQueue"
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10


def test_decide_rule_routes_requested_events_to_the_queue_with_its_own_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    rule = template["Resources"]["DecideRule"]["Properties"]
    (target,) = rule["Targets"]

    assert rule["EventPattern"] == {
        "source": ["privatelink-acceptor"],
        "detail-type": ["Endpoint Connection Requested"],
    }
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert _ref_target(target["Arn"]) == "DecideQueue"
    assert _ref_target(target["DeadLetterConfig"]["Arn"]) == "DecideRuleDeadLetterQueue"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_the_bus_is_archived_with_a_retention(template: dict[str, Any]) -> None:
    archive = template["Resources"]["EventArchive"]["Properties"]

    assert _ref_target(archive["SourceArn"]) == "EventBus"
    assert archive["RetentionDays"] == {"Ref": "EventArchiveRetentionDays"}


def test_queue_policies_let_in_only_their_own_sources(template: dict[str, Any]) -> None:
    for name, policy in resources(template, "AWS::SQS::QueuePolicy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Condition"], f"{name}: {statement['Sid']} has no source condition"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_has_its_own_log_group_with_the_retention_parameter(
    template: dict[str, Any], function: str
) -> None:
    groups = [
        group["Properties"]
        for group in resources(template, "AWS::Logs::LogGroup").values()
        if group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
    ]

    assert [g["RetentionInDays"] for g in groups] == [{"Ref": "LogRetentionDays"}]


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm["AlarmDescription"]
    return alarms


def _alarmed(template: dict[str, Any], namespace: str, metric: str) -> set[str]:
    return {
        _ref_target(dimension["Value"])
        for alarm in _alarms(template)
        if (alarm.get("Namespace"), alarm.get("MetricName")) == (namespace, metric)
        for dimension in alarm["Dimensions"]
    }


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_alarm_on(template: dict[str, Any], metric: str) -> None:
    assert _alarmed(template, "AWS/Lambda", metric) == set(FUNCTIONS)


def test_every_dead_letter_queue_depth_is_alarmed(template: dict[str, Any]) -> None:
    dead_letter_queues = {
        name for name in resources(template, "AWS::SQS::Queue") if "DeadLetter" in name
    }

    assert dead_letter_queues
    assert _alarmed(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible") == dead_letter_queues


def test_a_stuck_decide_queue_is_alarmed(template: dict[str, Any]) -> None:
    assert _alarmed(template, "AWS/SQS", "ApproximateAgeOfOldestMessage") == {"DecideQueue"}


def test_dashboard_shows_decisions_by_outcome_latency_and_errors(template: dict[str, Any]) -> None:
    stack = stack_resolver(template, {"ManagedServiceIds": "vpce-svc-0123456789abcdef0"})
    body = json.loads(
        stack.resolve(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    )

    metrics = {
        (metric[0], metric[1])
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
    }
    acceptor = {name for namespace, name in metrics if namespace == "PrivateLinkAcceptor"}
    assert {"Accepted", "Rejected", "Held", "Ignored", "DecisionLatency", "Errors"} <= acceptor
    assert {"SecurityGroupFailures", "NotificationFailures", "ManualOverrides"} <= acceptor
    assert ("AWS/Lambda", "Errors") in metrics


def test_dashboard_shows_every_functions_errors_and_every_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dead_letter_queues = {
        name for name in resources(template, "AWS::SQS::Queue") if "DeadLetter" in name
    } - {"EmailDeadLetterQueue"}  # conditional: only with a NotificationEmail

    for function in FUNCTIONS:
        assert f'"Errors", "FunctionName", "${{{function}}}"' in body, function
    for queue in dead_letter_queues:
        assert f'"QueueName", "${{{queue}.QueueName}}"' in body, queue


def test_tables_keep_the_documented_layout(template: dict[str, Any]) -> None:
    decisions = template["Resources"]["DecisionTable"]["Properties"]
    idempotency = template["Resources"]["IdempotencyTable"]["Properties"]

    assert [(k["AttributeName"], k["KeyType"]) for k in decisions["KeySchema"]] == [
        ("endpoint_id", "HASH"),
        ("decided_at", "RANGE"),
    ]
    assert decisions["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [(k["AttributeName"], k["KeyType"]) for k in idempotency["KeySchema"]] == [
        ("id", "HASH")
    ]
    assert idempotency["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }


@pytest.mark.parametrize(
    ("logical_id", "kind"),
    [
        ("DecisionTable", "decisions"),
        ("SecurityGroupRuleTable", "security-group-rules"),
        ("IdempotencyTable", "idempotency"),
    ],
)
def test_tables_the_integration_tests_build_have_the_template_keys(
    template: dict[str, Any], logical_id: str, kind: str
) -> None:
    from integration.stack_tables import KEYS

    schema = template["Resources"][logical_id]["Properties"]["KeySchema"]
    declared = {key["KeyType"]: key["AttributeName"] for key in schema}
    partition, sort = KEYS[kind]
    assert declared == ({"HASH": partition, "RANGE": sort} if sort else {"HASH": partition})


def test_the_rule_headroom_of_each_provider_group_is_alarmed(template: dict[str, Any]) -> None:
    """A Metrics Insights query grouped by GroupId: each provider group is a contributor of the
    alarm (docs/operations.md, "Alarms"), over the dimensions the function writes
    (tests/unit/security_groups/test_sg_headroom.py checks those)."""
    (alarm,) = [
        a
        for a in _alarms(template)
        if "ProviderGroupRuleHeadroom" in str(a.get("Metrics", a.get("MetricName")))
    ]
    (query,) = alarm["Metrics"]
    assert query["Expression"] == (
        'SELECT MIN(ProviderGroupRuleHeadroom) FROM SCHEMA("PrivateLinkAcceptor", GroupId, '
        "service) WHERE service = 'privatelink-acceptor' GROUP BY GroupId"
    )
    assert (query["Period"], query["ReturnData"]) == (300, True)
    assert alarm["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert 0 < alarm["Threshold"] < 60
    assert "MetricName" not in alarm
    assert "Dimensions" not in alarm


@pytest.mark.parametrize(
    ("function", "auth"), [("ApprovalFunction", "AWS_IAM"), ("SlackInteractionFunction", "NONE")]
)
def test_approvals_come_through_function_urls_iam_signed_or_checked_by_slack_s_signature(
    template: dict[str, Any], function: str, auth: str
) -> None:
    assert function_property(template, function, "FunctionUrlConfig") == {"AuthType": auth}


@pytest.mark.parametrize(
    "function",
    ["ApprovalFunction", "SlackInteractionFunction", "DecideFunction", "SecurityGroupsFunction"],
)
def test_approval_writers_and_readers_get_the_approval_table(
    template: dict[str, Any], function: str
) -> None:
    assert environment(template, function)["APPROVAL_TABLE"] == {"Ref": "ApprovalTable"}


def test_the_stack_outputs_the_urls_the_cli_and_slack_call(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]

    assert outputs["ApprovalUrl"]["Value"] == {"Fn::GetAtt": ["ApprovalFunctionUrl", "FunctionUrl"]}
    assert outputs["SlackInteractionUrl"]["Value"] == {
        "Fn::GetAtt": ["SlackInteractionFunctionUrl", "FunctionUrl"]
    }
