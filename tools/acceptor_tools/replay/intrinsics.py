"""CloudFormation intrinsic functions, resolved the way a deployed stack would see them.

The replay creates the template's resources itself, so it needs what CloudFormation would put
in their place: the value of every `Ref`, `Fn::GetAtt` and `Fn::Sub` for the resources and
parameters of one stack in one account and region. Physical names follow CloudFormation's
rules (a `Name`-like property when the template gives one, else `stack-LogicalId-SUFFIX`), with
a deterministic suffix so that two replays name things the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the key that holds it disappears


class TemplateError(ValueError):
    """The template cannot be read or uses something the replay cannot reproduce."""


@dataclass(frozen=True)
class Physical:
    """What CloudFormation returns for one resource: `Ref` and the `Fn::GetAtt` attributes."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Naming:
    """How one resource type is named and what its Ref and attributes are."""

    name_property: str | None
    physical: Callable[[str, Any, _Scope], Physical]


@dataclass(frozen=True)
class _Scope:
    account: str
    region: str
    partition: str
    stack: str


def _arn(scope: _Scope, service: str, resource: str, *, regional: bool = True) -> str:
    region = scope.region if regional else ""
    return f"arn:{scope.partition}:{service}:{region}:{scope.account}:{resource}"


def _queue(name: str, properties: Any, scope: _Scope) -> Physical:
    if properties.get("FifoQueue") in (True, "true") and not name.endswith(".fifo"):
        name += ".fifo"
    url = f"https://sqs.{scope.region}.amazonaws.com/{scope.account}/{name}"
    arn = _arn(scope, "sqs", name)
    return Physical(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})


def _topic(name: str, properties: Any, scope: _Scope) -> Physical:
    arn = _arn(scope, "sns", name)
    return Physical(ref=arn, attributes={"TopicArn": arn, "TopicName": name})


def _bus(name: str, properties: Any, scope: _Scope) -> Physical:
    return Physical(ref=name, attributes={"Arn": _arn(scope, "events", f"event-bus/{name}")})


def _rule(name: str, properties: Any, scope: _Scope) -> Physical:
    bus = _bus_name(properties.get("EventBusName"))
    path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
    return Physical(ref=name, attributes={"Arn": _arn(scope, "events", path)})


def _table(name: str, properties: Any, scope: _Scope) -> Physical:
    arn = _arn(scope, "dynamodb", f"table/{name}")
    return Physical(ref=name, attributes={"Arn": arn, "StreamArn": f"{arn}/stream/replay"})


def _function(name: str, properties: Any, scope: _Scope) -> Physical:
    return Physical(ref=name, attributes={"Arn": _arn(scope, "lambda", f"function:{name}")})


def _role(name: str, properties: Any, scope: _Scope) -> Physical:
    arn = _arn(scope, "iam", f"role/{name}", regional=False)
    return Physical(ref=name, attributes={"Arn": arn, "RoleId": f"AROA{_suffix(name)}"})


def _log_group(name: str, properties: Any, scope: _Scope) -> Physical:
    return Physical(ref=name, attributes={"Arn": _arn(scope, "logs", f"log-group:{name}:*")})


def _archive(name: str, properties: Any, scope: _Scope) -> Physical:
    return Physical(ref=name, attributes={"Arn": _arn(scope, "events", f"archive/{name}")})


def _other(name: str, properties: Any, scope: _Scope) -> Physical:
    return Physical(ref=name, attributes={"Arn": _arn(scope, "cloudformation", f"replay/{name}")})


NAMING: dict[str, _Naming] = {
    "AWS::SQS::Queue": _Naming("QueueName", _queue),
    "AWS::SNS::Topic": _Naming("TopicName", _topic),
    "AWS::Events::EventBus": _Naming("Name", _bus),
    "AWS::Events::Rule": _Naming("Name", _rule),
    "AWS::Events::Archive": _Naming("ArchiveName", _archive),
    "AWS::DynamoDB::Table": _Naming("TableName", _table),
    "AWS::Lambda::Function": _Naming("FunctionName", _function),
    "AWS::IAM::Role": _Naming("RoleName", _role),
    "AWS::Logs::LogGroup": _Naming("LogGroupName", _log_group),
}
_OTHER = _Naming(None, _other)


def _bus_name(value: Any) -> str:
    """EventBusName may be a name or an ARN; absent means the default bus."""
    if not value:
        return "default"
    text = str(value)
    return text.rsplit("event-bus/", 1)[-1] if text.startswith("arn:") else text


def bus_name(value: Any) -> str:
    return _bus_name(value)


def _suffix(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:12].upper()


class Resolver:
    """Resolves the intrinsics of one stack; resources are named on first use."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        *,
        account: str,
        region: str,
        stack: str,
    ) -> None:
        partition = "aws-cn" if region.startswith("cn-") else "aws"
        self._scope = _Scope(account=account, region=region, partition=partition, stack=stack)
        self._resources: Mapping[str, Any] = template.get("Resources") or {}
        self._mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._pseudo: dict[str, Any] = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": partition,
            "AWS::StackName": stack,
            "AWS::StackId": _arn(self._scope, "cloudformation", f"stack/{stack}/replay"),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self._parameters = dict(parameters)
        self._physical: dict[str, Physical] = {}
        self._condition_values: dict[str, bool] = {}
        self._naming_now: set[str] = set()

    @property
    def scope_account(self) -> str:
        return self._scope.account

    @property
    def scope_region(self) -> str:
        return self._scope.region

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise TemplateError(f"condition {name!r} is not defined in Conditions")
            self._condition_values[name] = bool(self._condition_expr(self._conditions[name]))
        return self._condition_values[name]

    def exists(self, logical_id: str) -> bool:
        resource = self._resources.get(logical_id)
        if resource is None:
            return False
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def physical(self, logical_id: str) -> Physical:
        if logical_id not in self._physical:
            if not self.exists(logical_id):
                raise TemplateError(f"{logical_id!r} is not a resource of this stack")
            if logical_id in self._naming_now:
                raise TemplateError(f"{logical_id!r} names itself through its own properties")
            self._naming_now.add(logical_id)
            resource = self._resources[logical_id]
            naming = NAMING.get(resource.get("Type", ""), _OTHER)
            # A type the replay never creates gets a generated name whatever its properties hold,
            # so they are not read: before the SAM transform they may name resources it adds.
            known = naming is not _OTHER
            properties = self.resolve(resource.get("Properties") or {}) if known else {}
            name = properties.get(naming.name_property) if naming.name_property else None
            if not name:
                name = self._generated_name(logical_id)
            self._physical[logical_id] = naming.physical(str(name), properties, self._scope)
            self._naming_now.discard(logical_id)
        return self._physical[logical_id]

    def _generated_name(self, logical_id: str) -> str:
        stack = self._scope.stack
        return f"{stack}-{logical_id}-{_suffix(stack + '/' + logical_id)}"

    def resolve(self, value: Any) -> Any:
        """A value with every intrinsic replaced; AWS::NoValue keys and items are removed."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, argument),) = value.items()
                function = _FUNCTIONS.get(key)
                if function is not None:
                    return function(self, argument)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        return value

    # --- the functions -------------------------------------------------------------------

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        if isinstance(name, str) and name in self._resources:
            return self.physical(name).ref
        raise TemplateError(f"Ref to {name!r}: not a parameter or resource of this template")

    def _get_att(self, argument: Any) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self.resolve(part) for part in argument)
        physical = self.physical(logical_id)
        if attribute in physical.attributes:
            return physical.attributes[attribute]
        if self._resources[logical_id].get("Type") in NAMING:
            # A resource the replay creates: an attribute it cannot produce must not be faked.
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: unknown to the replay")
        # Resources the replay never creates (alarms, dashboards...) only need a stable token.
        return f"{physical.ref}.{attribute}"

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name and name.split(".", 1)[0] in self._resources:
                return self._get_att(name)
            return _text(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _join(self, argument: Any) -> str:
        delimiter, items = argument[0], self.resolve(argument[1])
        return str(delimiter).join(_text(item) for item in items)

    def _select(self, argument: Any) -> Any:
        index, items = self.resolve(argument[0]), self.resolve(argument[1])
        return items[int(index)]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument[0], self.resolve(argument[1])
        return str(text).split(delimiter)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _find_in_map(self, argument: Any) -> Any:
        mapping, key, second = (self.resolve(part) for part in argument[:3])
        try:
            return self._mappings[mapping][key][second]
        except KeyError as err:
            raise TemplateError(f"Fn::FindInMap: {mapping}/{key}/{second} is not mapped") from err

    def _to_json(self, argument: Any) -> str:
        return json.dumps(self.resolve(argument), separators=(",", ":"))

    def _unsupported(self, argument: Any) -> Any:
        raise TemplateError(f"the replay cannot resolve {argument!r} in a single local stack")

    def truth(self, expression: Any) -> bool:
        """A condition or rule expression (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains,
        Condition) evaluated to a boolean."""
        return bool(self._condition_expr(expression))

    def _condition_expr(self, value: Any) -> Any:
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Condition":
                return self.condition(argument)
            operator = _CONDITION_OPERATORS.get(key)
            if operator is not None:
                return operator([self._condition_expr(item) for item in argument])
        return self.resolve(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)


def _equals(values: list[Any]) -> bool:
    left, right = values
    return _text(left) == _text(right)


def _contains(values: list[Any]) -> bool:
    items, value = values
    return _text(value) in [_text(item) for item in items]


_CONDITION_OPERATORS: dict[str, Callable[[list[Any]], bool]] = {
    "Fn::Equals": _equals,
    "Fn::Contains": _contains,
    "Fn::Not": lambda values: not values[0],
    "Fn::And": all,
    "Fn::Or": any,
}

_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::ToJsonString": Resolver._to_json,
    "Fn::Base64": lambda resolver, argument: resolver.resolve(argument),
    "Fn::ImportValue": Resolver._unsupported,
    "Fn::GetAZs": lambda resolver, argument: [f"{resolver.scope_region}{z}" for z in "abc"],
}
