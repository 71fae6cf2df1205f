"""Read a SAM template into the application the replay runs: functions, wiring, resources.

The template goes through the same steps as `sam deploy`: `AWS::LanguageExtensions`
(`Fn::ForEach`...) expanded by the SAM CLI's own processor, then the SAM transform
(samtranslator), so that event sources become the resources AWS would create (an `SNS` event
is a subscription, an `EventBridgeRule` event is a rule with the function as target, an `SQS`
event is an event source mapping). What comes out is plain data: resolved names, ARNs,
patterns and environments, in the account and region of the local AWS.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import yaml

from acceptor_tools.replay.app import (
    DEFAULT_ASYNC_RETRIES,
    App,
    BusSpec,
    ConnectionNotificationSpec,
    EventSourceSpec,
    FunctionSpec,
    QueueSpec,
    RuleSpec,
    SubscriptionSpec,
    TableSpec,
    TargetSpec,
    TopicSpec,
)
from acceptor_tools.replay.intrinsics import Resolver, TemplateError, bus_name

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
LIST_PARAMETER = re.compile(r"^(CommaDelimitedList|List<.+>)$")


def _sam(module: str) -> Any:
    """A module of the SAM CLI or translator (pinned dev dependencies that ship no type
    information): reached by name, so that the rest of this module stays type-checked."""
    return importlib.import_module(module)


def load_app(
    template_path: Path,
    *,
    account: str,
    region: str,
    stack: str = "privatelink-acceptor",
    parameter_overrides: Mapping[str, Any] | None = None,
) -> App:
    """Read, expand, transform and resolve `template_path`; TemplateError says what is wrong."""
    template_path = template_path.resolve()
    raw = _read_template(template_path)
    parameters = parameter_values(raw, parameter_overrides or {})
    _check_rules(raw, Resolver(raw, parameters, account=account, region=region, stack=stack))
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::StackName": stack}
    extensions = _sam("samcli.lib.cfn_language_extensions.sam_integration")
    expanded = extensions.expand_language_extensions(raw, {**parameters, **pseudo}, enabled=True)
    sam = copy.deepcopy(expanded.expanded_template)
    code_dirs = _take_code_dirs(sam, template_path.parent)
    cfn = _transform(sam, parameters, region)
    resolver = Resolver(cfn, parameters, account=account, region=region, stack=stack)
    return _read(cfn, resolver, template_path, stack, parameters, code_dirs)


def declared_parameters(template_path: Path) -> set[str]:
    return set(_read_template(template_path).get("Parameters") or {})


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (`!Ref`, `!GetAtt A.B`, `!Sub`...). A loader of
    its own: the SAM CLI's `yaml_parse` changes PyYAML's SafeLoader for the whole process."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


# CloudFormation reads a date-like value (an AWSTemplateFormatVersion...) as text.
_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)


def _read_template(template_path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(template_path.read_text(), Loader=_TemplateLoader)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise TemplateError(f"{template_path}: cannot be read as a template: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("Resources"), dict):
        raise TemplateError(f"{template_path}: a template needs a Resources section")
    return raw


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter's value as CloudFormation would pass it to the intrinsics:
    the override or else the default, lists split, checked against the parameter's
    AllowedValues and AllowedPattern; TemplateError for a missing or refused value or for an
    override of an undeclared parameter."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    strays = sorted(set(overrides) - set(declared))
    if strays:
        raise TemplateError(f"parameter overrides for undeclared parameters: {strays}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default: give it a value")
        if LIST_PARAMETER.match(str(spec.get("Type", ""))):
            items = value if isinstance(value, list) else str(value).split(",")
            values[name] = [str(item).strip() for item in items if str(item).strip()]
        else:
            values[name] = str(value) if not isinstance(value, bool) else str(value).lower()
            allowed = spec.get("AllowedValues")
            if allowed is not None and values[name] not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={values[name]!r} not in {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern is not None and not re.fullmatch(pattern, values[name]):
                raise TemplateError(f"parameter {name}={values[name]!r} fails {pattern}")
    return values


def _check_rules(template: Mapping[str, Any], resolver: Resolver) -> None:
    """The template's `Rules`: CloudFormation refuses a deploy whose parameters break one."""
    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not resolver.truth(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolver.truth(assertion["Assert"]):
                why = assertion.get("AssertDescription", "its assertion fails")
                raise TemplateError(f"template rule {name}: {str(why).strip()}")


def _take_code_dirs(sam: dict[str, Any], base: Path) -> dict[str, Path]:
    """Each function's local CodeUri, replaced by an S3 placeholder the transform accepts."""
    globals_function = (sam.get("Globals") or {}).get("Function") or {}
    global_uri = globals_function.get("CodeUri")
    placeholder = "s3://replay-placeholder/code.zip"
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = placeholder
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in sam["Resources"].items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        properties = resource.setdefault("Properties", {})
        if properties.get("PackageType") == "Image" or "InlineCode" in properties:
            raise TemplateError(f"{logical_id}: only zip functions with a local CodeUri replay")
        uri = properties.get("CodeUri", global_uri)
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise TemplateError(f"{logical_id}: CodeUri {uri!r} is not a local folder")
        folder = (base / uri).resolve()
        if not folder.is_dir():
            raise TemplateError(f"{logical_id}: CodeUri {uri!r} is not a folder ({folder})")
        code_dirs[logical_id] = folder
        properties["CodeUri"] = placeholder
    for resource in sam["Resources"].values():
        # Layers are not mounted at /opt: what a function reads from one (the acceptor's policy
        # files) is pointed at its source folder through an environment override instead.
        if resource.get("Type") == SERVERLESS_LAYER:
            resource.setdefault("Properties", {})["ContentUri"] = placeholder
    return code_dirs


def _transform(sam: dict[str, Any], parameters: Mapping[str, Any], region: str) -> dict[str, Any]:
    transforms = sam.get("Transform")
    names = transforms if isinstance(transforms, list) else [transforms]
    if "AWS::Serverless-2016-10-31" not in names:
        sam.pop("Transform", None)
        return sam
    sam["Transform"] = "AWS::Serverless-2016-10-31"
    # A session only supplies the region to the transform; it never calls AWS.
    session = boto3.session.Session(region_name=region)
    parser = _sam("samtranslator.parser.parser").Parser()
    translator = _sam("samtranslator.translator.translator").Translator(
        {}, parser, boto_session=session
    )
    invalid = _sam("samtranslator.model.exceptions").InvalidDocumentException
    try:
        cfn = translator.translate(sam, dict(parameters), get_managed_policy_map=lambda: {})
    except invalid as err:
        problems = "; ".join(str(cause) for cause in err.causes)
        raise TemplateError(f"the SAM transform rejects the template: {problems}") from err
    finally:
        # Its metrics go nowhere (a dummy publisher); publishing them keeps it from warning.
        translator.metrics.publish()
    plain: dict[str, Any] = json.loads(json.dumps(cfn))  # OrderedDicts and py27 strings out
    return plain


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).lower() == "true"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class _Reader:
    def __init__(self, cfn: Mapping[str, Any], resolver: Resolver) -> None:
        self.resolver = resolver
        self.resources: Mapping[str, Any] = cfn["Resources"]

    def of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type and self.resolver.exists(logical_id):
                properties = self.resolver.resolve(resource.get("Properties") or {})
                found.append((logical_id, properties))
        return found


def _read(
    cfn: Mapping[str, Any],
    resolver: Resolver,
    template_path: Path,
    stack: str,
    parameters: Mapping[str, Any],
    code_dirs: Mapping[str, Path],
) -> App:
    reader = _Reader(cfn, resolver)
    invoke_config_resources = reader.of_type("AWS::Lambda::EventInvokeConfig")
    invoke_configs = {str(props["FunctionName"]): props for _, props in invoke_config_resources}
    functions: dict[str, FunctionSpec] = {}
    for logical_id, props in reader.of_type("AWS::Lambda::Function"):
        if logical_id not in code_dirs:
            raise TemplateError(f"{logical_id}: only AWS::Serverless::Function resources replay")
        physical = resolver.physical(logical_id)
        invoke = invoke_configs.get(physical.ref, {})
        on_failure = ((invoke.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        variables = (props.get("Environment") or {}).get("Variables") or {}
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=physical.ref,
            arn=physical.attributes["Arn"],
            handler=str(props["Handler"]),
            code_dir=code_dirs[logical_id],
            runtime=str(props.get("Runtime", "")),
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            environment={k: _env_text(v) for k, v in variables.items()},
            max_retry_attempts=int(invoke.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
            on_failure=on_failure,
            dead_letter=(props.get("DeadLetterConfig") or {}).get("TargetArn"),
        )

    queues = {
        lid: QueueSpec(
            logical_id=lid,
            name=resolver.physical(lid).attributes["QueueName"],
            url=resolver.physical(lid).ref,
            arn=resolver.physical(lid).attributes["Arn"],
            attributes=_queue_attributes(props),
        )
        for lid, props in reader.of_type("AWS::SQS::Queue")
    }
    topics: dict[str, TopicSpec] = {}
    subscriptions: list[SubscriptionSpec] = []
    for lid, props in reader.of_type("AWS::SNS::Topic"):
        arn = resolver.physical(lid).ref
        topics[lid] = TopicSpec(
            logical_id=lid,
            name=resolver.physical(lid).attributes["TopicName"],
            arn=arn,
            attributes={k: _env_text(props[k]) for k in ("FifoTopic",) if k in props},
        )
        for index, inline in enumerate(props.get("Subscription") or []):
            subscriptions.append(
                SubscriptionSpec(
                    logical_id=f"{lid}.Subscription[{index}]",
                    topic_arn=arn,
                    protocol=str(inline["Protocol"]),
                    endpoint=str(inline["Endpoint"]),
                )
            )
    for lid, props in reader.of_type("AWS::SNS::Subscription"):
        subscriptions.append(
            SubscriptionSpec(
                logical_id=lid,
                topic_arn=str(props["TopicArn"]),
                protocol=str(props["Protocol"]),
                endpoint=str(props.get("Endpoint", "")),
                raw=_flag(props.get("RawMessageDelivery"), default=False),
                filter_policy=_json(props.get("FilterPolicy")),
                filter_policy_scope=props.get("FilterPolicyScope"),
            )
        )
    buses = {
        lid: BusSpec(
            logical_id=lid, name=str(props["Name"]), arn=resolver.physical(lid).attributes["Arn"]
        )
        for lid, props in reader.of_type("AWS::Events::EventBus")
    }
    tables = {
        lid: TableSpec(logical_id=lid, name=resolver.physical(lid).ref, properties=props)
        for lid, props in reader.of_type("AWS::DynamoDB::Table")
    }
    rules = tuple(
        RuleSpec(
            logical_id=lid,
            name=resolver.physical(lid).ref,
            bus=bus_name(props.get("EventBusName")),
            pattern=_json(props.get("EventPattern")),
            schedule=props.get("ScheduleExpression"),
            enabled=str(props.get("State", "ENABLED")).upper() == "ENABLED",
            targets=tuple(_target(lid, target) for target in props.get("Targets") or []),
        )
        for lid, props in reader.of_type("AWS::Events::Rule")
    )
    app_functions = {f.name: f.logical_id for f in functions.values()}
    app_functions.update({f.arn: f.logical_id for f in functions.values()})
    event_sources = tuple(
        _event_source(lid, props, app_functions)
        for lid, props in reader.of_type("AWS::Lambda::EventSourceMapping")
        if ":sqs:" in str(props.get("EventSourceArn", ""))
    )
    url_resources = reader.of_type("AWS::Lambda::Url")
    url_targets = {
        lid: app_functions[str(props["TargetFunctionArn"])]
        for lid, props in url_resources
        if str(props.get("TargetFunctionArn")) in app_functions
    }
    function_urls = {
        url_targets[lid]: str(props.get("AuthType", "AWS_IAM"))
        for lid, props in url_resources
        if lid in url_targets
    }
    notifications = tuple(
        ConnectionNotificationSpec(
            logical_id=lid,
            service_id=str(props["ServiceId"]),
            topic_arn=str(props["ConnectionNotificationArn"]),
            events=tuple(props.get("ConnectionEvents") or ()),
        )
        for lid, props in reader.of_type("AWS::EC2::VPCEndpointConnectionNotification")
        if props.get("ServiceId")
    )
    known = {
        *functions,
        *queues,
        *topics,
        *buses,
        *tables,
        *(r.logical_id for r in rules),
        *(s.logical_id for s in subscriptions),
        *(e.logical_id for e in event_sources),
        *(n.logical_id for n in notifications),
        *(lid for lid, _ in invoke_config_resources),
        *(lid for lid, _ in url_resources),
    }
    not_emulated = {
        lid: str(resource.get("Type"))
        for lid, resource in reader.resources.items()
        if lid not in known and resolver.exists(lid)
    }
    return App(
        template_path=template_path,
        stack=stack,
        account=resolver.scope_account,
        region=resolver.scope_region,
        parameters=parameters,
        functions=functions,
        queues=queues,
        topics=topics,
        buses=buses,
        tables=tables,
        rules=rules,
        subscriptions=tuple(subscriptions),
        event_sources=event_sources,
        connection_notifications=notifications,
        not_emulated=not_emulated,
        function_urls=function_urls,
        url_outputs=_url_outputs(cfn, url_targets),
    )


def _url_outputs(cfn: Mapping[str, Any], url_targets: Mapping[str, str]) -> dict[str, str]:
    """Outputs that give a function URL (`!GetAtt ApprovalFunctionUrl.FunctionUrl`), by name:
    what a local server of the stack's URLs answers in their place (docs/local-aws.md)."""
    found = {}
    for name, output in (cfn.get("Outputs") or {}).items():
        value = output.get("Value") if isinstance(output, dict) else None
        attribute = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if isinstance(attribute, str):
            attribute = attribute.split(".", 1)
        if (
            isinstance(attribute, list)
            and len(attribute) == 2
            and attribute[1] == "FunctionUrl"
            and attribute[0] in url_targets
        ):
            found[str(name)] = url_targets[attribute[0]]
    return found


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# CloudFormation property -> SQS attribute of CreateQueue (the ones a replay can observe).
_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue_attributes(props: Mapping[str, Any]) -> dict[str, str]:
    attributes = {name: _env_text(props[name]) for name in _QUEUE_ATTRIBUTES if name in props}
    redrive = _json(props.get("RedrivePolicy"))
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                "maxReceiveCount": int(redrive["maxReceiveCount"]),
            }
        )
    return attributes


def _target(rule: str, target: Mapping[str, Any]) -> TargetSpec:
    if "Input" in target or "InputPath" in target:
        # A constant or path-selected input would change what the function receives, and the
        # local bus does not apply it: refuse rather than deliver something AWS would not.
        raise TemplateError(f"{rule}: targets with Input or InputPath do not replay")
    return TargetSpec(
        id=str(target["Id"]),
        arn=str(target["Arn"]),
        input_transformer=target.get("InputTransformer"),
    )


def _event_source(
    logical_id: str, props: Mapping[str, Any], functions: Mapping[str, str]
) -> EventSourceSpec:
    target = str(props["FunctionName"])
    if target not in functions:
        raise TemplateError(f"{logical_id}: FunctionName {target!r} is not a function here")
    filters = ((props.get("FilterCriteria") or {}).get("Filters")) or []
    return EventSourceSpec(
        logical_id=logical_id,
        queue_arn=str(props["EventSourceArn"]),
        function=functions[target],
        batch_size=int(props.get("BatchSize", 10)),
        batching_window=int(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        enabled=_flag(props.get("Enabled"), default=True),
        filters=tuple(_json(f["Pattern"]) for f in filters),
    )
