"""The IAM statements template.yaml gives a function's role, read as grants (actions on
resources) that recorded calls can be checked against. Intrinsics are rendered by what they name
(`${EventBus.Arn}`, `${ManagedServiceIds}` for anything built from that parameter); both sides
of a conditional statement count (a grant that holds when its condition holds); SAM policy
templates and the template's managed policies are read too.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

# SAM's policy templates (DynamoDBCrudPolicy, ...), should the template use them.
SAM_POLICY_TEMPLATES = files("samtranslator") / "policy_templates_data" / "policy_templates.json"


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, target: str) -> bool:
        return any(fnmatch.fnmatchcase(action, a) for a in self.actions) and any(
            r == target or (target != "*" and fnmatch.fnmatchcase(r, target))
            for r in self.resources
        )


def render(value: Any) -> str:
    """A resource as text, intrinsics shown by what they name (`${EventBus.Arn}`,
    `${ManagedServiceIds}` for anything built from that parameter)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return "${" + str(argument) + "}"
        if name == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".")
            return "${" + ".".join(str(p) for p in parts) + "}"
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            for variable, expression in variables.items():
                text = text.replace("${" + variable + "}", render(expression))
            return str(text)
        referenced = sorted(set(_references(argument)))
        return "${" + ",".join(referenced) + "}"
    return json.dumps(value)


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, argument in value.items():
            if name == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
                yield argument
            else:
                yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _branches(value: Any) -> Iterator[Any]:
    """Both sides of an Fn::If (a grant that holds when its condition holds), minus NoValue."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _listed(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return [branch for item in items for branch in _branches(item)]


def statements_of(template: dict[str, Any], function: str) -> list[Grant]:
    resources = template["Resources"]
    properties = resources[function]["Properties"]
    sam_templates = json.loads(SAM_POLICY_TEMPLATES.read_text())["Templates"]
    documents: list[Any] = []
    for policy in _listed(properties.get("Policies", [])):
        if isinstance(policy, dict) and "Statement" in policy:
            documents.append(policy)
        elif isinstance(policy, dict) and set(policy) == {"Ref"}:
            documents.append(resources[policy["Ref"]]["Properties"]["PolicyDocument"])
        elif isinstance(policy, dict) and len(policy) == 1:
            ((name, parameters),) = policy.items()
            definition = sam_templates[name]["Definition"]
            documents.append(_substitute(definition, parameters or {}))
    grants = []
    for document in documents:
        for statement in _listed(document["Statement"]):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            grants.append(
                Grant(
                    actions=tuple(str(a) for a in _listed(statement["Action"])),
                    resources=tuple(render(r) for r in _listed(statement["Resource"])),
                )
            )
    return grants


def _substitute(definition: Any, parameters: dict[str, Any]) -> Any:
    """A SAM policy template with its parameters put in (`${TableName}` and the like)."""
    text = json.dumps(definition)
    for name, value in parameters.items():
        text = text.replace('{"Ref": "' + name + '"}', json.dumps({"Ref": render(value)}))
    return json.loads(text)
