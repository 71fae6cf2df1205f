"""Pydantic's validation errors, told to a person: where (a field, or better a rule name), what
is wrong, and the fix. Messages are chosen by error type from tables, never by error text."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from acceptor.policy.model import (
    ID_FORMS,
    NULL_VALUE,
    NUMBER_NOT_ID,
    UNSUPPORTED_VERSION,
    PolicyFile,
)
from acceptor.policy.source import DataPath, Issue, SourceTree, describe, read_as

_NAME = re.compile(ID_FORMS["name"][0])
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")


def format_location(path: DataPath, data: Any) -> str:
    """`rule 'payments-prod': when.accounts[0]`, or `rules[2].when` for a rule with no name."""
    parts = list(path)
    prefix = ""
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
        name = _rule_name(data, parts[1])
        if name is not None:
            prefix = f"rule {name!r}"
            parts = parts[2:]
    rendered = ""
    for part in parts:
        if isinstance(part, int):
            rendered += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            rendered += f".{part}" if rendered else part
        else:
            rendered += f"[{part!r}]"
    return ": ".join(piece for piece in (prefix, rendered) if piece)


def with_location(path: DataPath, message: str, data: Any) -> str:
    location = format_location(path, data)
    return f"{location}: {message}" if location else message


def _rule_name(data: Any, index: int) -> str | None:
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list) or not 0 <= index < len(rules):
        return None
    rule = rules[index]
    name = rule.get("name") if isinstance(rule, dict) else None
    return name if isinstance(name, str) and _NAME.fullmatch(name) else None


@dataclass(frozen=True)
class _Error:
    """One pydantic error, placed on the data as the file has it."""

    details: ErrorDetails
    path: DataPath  # the part of `loc` that exists in the data
    branch_at: DataPath | None  # where a union tried several types, if it did
    missing: str | None  # the missing key, for `missing` errors
    on_key: bool  # the error is about a mapping key, not its value
    written: str | None  # the text as written, when the value is not a string
    root: type[BaseModel]  # the model validated (PolicyFile; the world file reuses these words)

    @property
    def type(self) -> str:
        return self.details["type"]

    @property
    def value(self) -> Any:
        return self.details["input"]


def validation_issues(
    err: ValidationError, tree: SourceTree, root: type[BaseModel] = PolicyFile
) -> list[Issue]:
    errors = [_place(details, tree, root) for details in err.errors(include_url=False)]
    issues: list[Issue] = []
    seen: set[tuple[DataPath, str | None, bool]] = set()
    for error in _most_specific(errors):
        if error.path in tree.unreadable:
            continue
        key = (error.path, error.missing, error.on_key)
        if key in seen:
            continue
        seen.add(key)
        location, message = _message(error, tree)
        line = tree.line_of(error.path)
        issues.append(Issue(location, line, message))
    return issues


def _place(details: ErrorDetails, tree: SourceTree, root: type[BaseModel]) -> _Error:
    current: Any = tree.data
    path: list[str | int] = []
    branch_at: DataPath | None = None
    missing: str | None = None
    on_key = False
    loc = details["loc"]
    for index, part in enumerate(loc):
        if _has(current, part):
            current = current[part]
            path.append(part)
        elif details["type"] == "missing" and index == len(loc) - 1:
            missing = str(part)
        elif part == "[key]":
            on_key = True
        elif branch_at is None:
            # A union's member name (`str`, `list[str]`) or a discriminator's tag (`slack`).
            branch_at = tuple(path)
    placed = tuple(path)
    written = None if on_key else tree.written.get(placed)
    return _Error(details, placed, branch_at, missing, on_key, written, root)


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _most_specific(errors: list[_Error]) -> list[_Error]:
    """Of a union's errors, keep those that went into the value (`team[1]: ...`) over the
    member that refused it whole (`team: should be text`)."""
    deeper = {e.branch_at for e in errors if e.branch_at is not None and e.path != e.branch_at}
    return [e for e in errors if not (e.branch_at in deeper and e.path == e.branch_at)]


def _message(error: _Error, tree: SourceTree) -> tuple[DataPath, str]:
    build = _MESSAGES.get(error.type, _pydantic_text)
    message = build(error, tree)
    if error.on_key:
        message = f"key: {message}"
    if error.type == "extra_forbidden":
        return error.path[:-1], message
    return error.path, message


def _pydantic_text(error: _Error, tree: SourceTree) -> str:
    text = str(error.details["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    written = error.written
    if tree.syntax == "yaml" and written and written.lower() != str(error.value).lower():
        text += f" (YAML read {written} as {describe(error.value, written, tree.syntax)})"
    return text


def _found(error: _Error, tree: SourceTree) -> str:
    if error.written is not None:
        return f"{error.written}, {describe(error.value, error.written, tree.syntax)}"
    return found(error.value)


def found(value: Any) -> str:
    """A value as a person would name it: `the text 'x'`, `a list`, `no value`."""
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (str, f"the text {value!r}"),
        (dict, "a mapping"),
        (list, "a list"),
        (bool, f"the boolean {str(value).lower()}"),
        ((int, float), f"the number {value}"),
    )
    for kind, text in kinds:
        if isinstance(value, kind):
            return text
    return "no value" if value is None else f"a {type(value).__name__}"


def _wants_text(error: _Error, tree: SourceTree) -> str:
    if error.value is None:
        return "has no value; give a value or remove the key"
    if error.written is not None:
        return f"{error.written} {read_as(error.value, error.written, tree.syntax)}"
    return f"should be text; found {_found(error, tree)}"


def _missing(error: _Error, tree: SourceTree) -> str:
    key = error.missing or "?"
    hint = _MISSING_HINTS.get(key, "")
    return f"missing required key {key!r}{hint}"


def _unknown_key(error: _Error, tree: SourceTree) -> str:
    key = str(error.path[-1]) if error.path else "?"
    allowed = allowed_keys(error.details["loc"][:-1], error.root)
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    if allowed:
        message += f" (allowed here: {', '.join(allowed)})"
    return message


def _too_short(error: _Error, tree: SourceTree) -> str:
    if isinstance(error.value, dict):
        return "must have at least one key; add one or remove this key"
    if isinstance(error.value, str):
        return "must not be empty"
    return "must not be empty; list at least one value or remove this key"


def _literal(error: _Error, tree: SourceTree) -> str:
    expected = error.details.get("ctx", {}).get("expected", "")
    return f"{_found(error, tree)} is not allowed here; use {expected}"


def _bound(word: str, limit: str, ctx_key: str) -> Callable[[_Error, SourceTree], str]:
    def build(error: _Error, tree: SourceTree) -> str:
        if "ports" in error.path:
            return f"{error.value} is too {word}; ports run from 1 to 65535"
        bound = error.details.get("ctx", {}).get(ctx_key)
        return f"{error.value} is too {word}; the {limit} allowed is {bound}"

    return build


def _expected(kind: str, example: str) -> Callable[[_Error, SourceTree], str]:
    def build(error: _Error, tree: SourceTree) -> str:
        return f"should be {kind}{example}; found {_found(error, tree)}"

    return build


def _channel_type(error: _Error, tree: SourceTree) -> str:
    found = ""
    if isinstance(error.value, dict) and "type" in error.value:
        found = f"type {error.value['type']!r} is not supported; "
    return f"{found}give the channel a type: {', '.join(channel_types())}"


def _too_long(error: _Error, tree: SourceTree) -> str:
    limit = error.details.get("ctx", {}).get("max_length")
    return f"is longer than {limit} characters"


_MESSAGES: dict[str, Callable[[_Error, SourceTree], str]] = {
    "missing": _missing,
    "extra_forbidden": _unknown_key,
    "string_type": _wants_text,
    NUMBER_NOT_ID: _wants_text,
    NULL_VALUE: _wants_text,
    "too_short": _too_short,
    "string_too_short": _too_short,
    "string_too_long": _too_long,
    "literal_error": _literal,
    "greater_than_equal": _bound("small", "least", "ge"),
    "less_than_equal": _bound("large", "most", "le"),
    "list_type": _expected("a list", " like [a, b]"),
    "dict_type": _expected("a mapping of keys to values", ""),
    "model_type": _expected("a mapping of keys to values", ""),
    "model_attributes_type": _expected("a mapping of keys to values", ""),
    "bool_type": _expected("true or false", ""),
    "int_type": _expected("a whole number", " (not quoted)"),
    "union_tag_not_found": _channel_type,
    "union_tag_invalid": _channel_type,
    UNSUPPORTED_VERSION: _pydantic_text,
}

_MISSING_HINTS = {
    "version": "; start the file with version: 1",
    "services": '; list the endpoint service IDs this file governs, or ["*"] for all',
    "name": "; give the rule a name, unique across all policy files",
    "decision": "; add decision: accept, reject or hold",
    "when": "; add when: with at least one condition",
    "ports": "; list the ports, e.g. ports: [443]",
    "group": "; give the provider's security group ID (sg-...)",
}


def channel_types() -> list[str]:
    channel = PolicyFile.model_fields["notifications"].annotation
    return [
        tag
        for member in _members(get_args(_unwrap(channel))[1])
        for tag in get_args(member.model_fields["type"].annotation)
    ]


def allowed_keys(loc: tuple[str | int, ...], root: type[BaseModel] = PolicyFile) -> list[str]:
    """The keys the model allows at `loc` (a pydantic loc, union tags included)."""
    current: Any = root
    for part in loc:
        current = _step(_unwrap(current), part)
        if current is None:
            return []
    model = _unwrap(current)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or name for name, info in model.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `| None` until a model, list, dict or real union is left."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if get_origin(annotation) in (Union, types.UnionType):
            members = [m for m in get_args(annotation) if m is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _members(annotation: Any) -> list[type[BaseModel]]:
    return [
        m
        for m in _union_args(_unwrap(annotation))
        if isinstance(m, type) and issubclass(m, BaseModel)
    ]


def _step(annotation: Any, part: str | int) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = get_origin(annotation)
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    for member in _members(annotation):
        type_field = member.model_fields.get("type")
        literal = type_field.annotation if type_field is not None else None
        if get_origin(literal) is Literal and part in get_args(literal):
            return member
    return None
