"""template.yaml as the template tests read it: parsed by cfn-lint's CloudFormation-aware
loader (it knows `!Ref`, `!Sub`...), plus its conditions and intrinsic functions evaluated for
one set of parameter values by the replay's resolver (`stack_resolver`). No AWS, no network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from acceptor_tools.replay.intrinsics import Resolver
from acceptor_tools.replay.template import parameter_values

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "AWS::Serverless::Function"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
STACK_NAME = "privatelink-acceptor"


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


def stack_resolver(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> Resolver:
    """The template's conditions and intrinsic functions for these parameter values (the
    defaults for the others), evaluated by the replay's resolver as CloudFormation would."""
    return Resolver(
        template,
        parameter_values(template, parameters),
        account=ACCOUNT,
        region=REGION,
        stack=STACK_NAME,
    )
