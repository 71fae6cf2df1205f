"""template.yaml as the template tests read it: parsed by cfn-lint's CloudFormation-aware
loader (it knows `!Ref`, `!Sub`...), plus the little of CloudFormation's evaluation that the
tests need (conditions and the intrinsic functions the template uses), for one set of
parameter values. No AWS, no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "AWS::Serverless::Function"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "privatelink-acceptor",
}


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    template, problems = decode(str(path))
    assert not problems, [str(p) for p in problems]
    assert template is not None
    return dict(template)


def resources(template: Mapping[str, Any], kind: str | None = None) -> dict[str, Any]:
    return {
        name: body
        for name, body in template["Resources"].items()
        if kind is None or body["Type"] == kind
    }


def functions(template: Mapping[str, Any]) -> dict[str, Any]:
    return resources(template, FUNCTION)


def function_property(template: Mapping[str, Any], function: str, name: str) -> Any:
    """A function's property, or the Globals value SAM would give it."""
    own = template["Resources"][function]["Properties"]
    if name in own:
        return own[name]
    return template.get("Globals", {}).get("Function", {}).get(name)


def environment(template: Mapping[str, Any], function: str) -> dict[str, Any]:
    """The variables SAM gives a function: Globals merged with its own (its own win)."""
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    own = template["Resources"][function]["Properties"].get("Environment", {})
    return {**shared.get("Variables", {}), **own.get("Variables", {})}


def statements(template: Mapping[str, Any], function: str) -> Iterator[dict[str, Any]]:
    """Every IAM statement a function's role may get: inline ones, the managed policies of the
    template it references, and both branches of a conditional statement."""
    for policy in template["Resources"][function]["Properties"].get("Policies", []):
        if isinstance(policy, Mapping) and set(policy) == {"Ref"}:
            managed = template["Resources"][policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", policy
            yield from _branches(managed["Properties"]["PolicyDocument"]["Statement"])
        else:
            assert isinstance(policy, Mapping), policy
            assert "Statement" in policy, policy
            yield from _branches(policy["Statement"])


def _branches(items: Any) -> Iterator[dict[str, Any]]:
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, Mapping) and "Fn::If" in item:
            _, when_true, when_false = item["Fn::If"]
            yield from _branches([when_true, when_false])
        elif isinstance(item, Mapping) and item != {"Ref": "AWS::NoValue"}:
            yield dict(item)


def actions(statement: Mapping[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


class Stack:
    """Conditions and intrinsic functions evaluated for given parameter values, the way
    CloudFormation does it for the parts of this template the tests look at."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
        self.template = template
        self.values: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            value = parameters.get(name, spec.get("Default"))
            assert value is not None, f"parameter {name} needs a value"
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = [item.strip() for item in value.split(",")]
            self.values[name] = value
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        name = self.template["Resources"][logical_id].get("Condition")
        return name is None or self.condition(name)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [value for value in (self.resolve(i) for i in node) if value is not _NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) != 1:
            return {key: self.resolve(value) for key, value in node.items()}
        (function, argument), *_ = node.items()
        handler = _FUNCTIONS.get(function)
        if handler is None:
            return {function: self.resolve(argument)}
        return handler(self, argument)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.values:
            return self.values[name]
        return f"<{name}>"  # a resource: its physical ID is only known in AWS

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.resolve(value) for key, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return f"<{name}>"
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)


_NO_VALUE = object()

_FUNCTIONS: dict[str, Any] = {
    "Ref": lambda stack, name: stack._ref(name),
    "Condition": lambda stack, name: stack.condition(name),
    "Fn::Sub": lambda stack, argument: stack._sub(argument),
    "Fn::If": lambda stack, argument: stack._if(argument),
    "Fn::Join": lambda stack, a: a[0].join(_strings(stack.resolve(a[1]))),
    "Fn::Split": lambda stack, a: str(stack.resolve(a[1])).split(a[0]),
    "Fn::Select": lambda stack, a: stack.resolve(a[1])[int(a[0])],
    "Fn::Equals": lambda stack, a: stack.resolve(a[0]) == stack.resolve(a[1]),
    "Fn::Not": lambda stack, a: not stack.resolve(a[0]),
    "Fn::And": lambda stack, a: all(stack.resolve(v) for v in a),
    "Fn::Or": lambda stack, a: any(stack.resolve(v) for v in a),
    "Fn::GetAtt": lambda stack, a: f"<{'.'.join(a) if isinstance(a, list) else a}>",
}


def _strings(values: Any) -> list[str]:
    assert isinstance(values, list), values
    assert all(isinstance(v, str) for v in values), values
    return values
