"""The JSON Schema of policy files, generated from the model, shaped for editors.

`acceptor policy schema` prints it; `schema/policy-v1.schema.json` is the committed copy that
policy files point editors at, and a test keeps the two equal. `editor_schema` shapes any
model's schema the same way (policy test files have theirs: `acceptor policy schema --tests`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from acceptor.policy.model import PolicyFile

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:privatelink-acceptor:schema:policy-v1"
SCHEMA_FILE = "schema/policy-v1.schema.json"
REGENERATE = f"acceptor policy schema > {SCHEMA_FILE}"


def policy_schema() -> dict[str, Any]:
    return editor_schema(
        PolicyFile,
        schema_id=SCHEMA_ID,
        title="PrivateLink Acceptor policy file, version 1",
        description=(
            "Decides VPC endpoint connection requests: rules (accept, reject, hold) with "
            "conditions on the consumer, a default, and notifications. "
            "Check with: acceptor policy check"
        ),
    )


def editor_schema(
    model: type[BaseModel],
    *,
    schema_id: str,
    title: str,
    description: str,
    nulls: bool = False,
) -> dict[str, Any]:
    """`model`'s schema for editors, with a header. `nulls`: keep `null` where the model takes
    it (a facts file's null means unknown); policy files refuse an explicit null."""
    generated = _tidy(model.model_json_schema(by_alias=True, mode="validation"), nulls=nulls)
    header = {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id,
        "title": title,
        "description": description,
    }
    generated.pop("title", None)
    generated.pop("description", None)
    return {**header, **generated}


def render_schema() -> str:
    """The schema as committed: stable key order, two-space indent, final newline."""
    return render(policy_schema())


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _tidy(node: Any, *, nulls: bool = False) -> Any:
    """Make pydantic's output an editor schema: no `null` alternatives (unless `nulls`), no
    generated titles on properties, closed objects everywhere (a mapping keyed by a name
    pattern refuses other keys)."""
    if isinstance(node, list):
        return [_tidy(item, nulls=nulls) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _tidy(value, nulls=nulls) for key, value in node.items()}
    if "anyOf" in node and not nulls:
        options = [option for option in node["anyOf"] if option != {"type": "null"}]
        if len(options) == 1:
            del node["anyOf"]
            node = {**options[0], **node}
        else:
            node["anyOf"] = options
    if node.get("default", 0) is None:
        del node["default"]
    # OpenAPI's keyword, not JSON Schema's: each member's `type` const already tells them apart.
    node.pop("discriminator", None)
    if node.get("type") == "object":
        for prop in node.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        if "properties" in node or "patternProperties" in node:
            node.setdefault("additionalProperties", False)
    return node
