"""YAML syntax errors told in the project's words, at the line of the mistake.

PyYAML's errors carry no codes, only English: a *context* ("while parsing a flow sequence",
with the mark where that construct began) and a *problem* (with the mark where the parser gave
up). libyaml's C parser words most problems differently from the pure-Python parser, but the
contexts are the same, so a kind is recognised by its context phrase (by the problem's only where
there is no context), from one table; the words come from another, never from PyYAML's text.

The line matters as much as the words. An unclosed `[` or quote is noticed only where the next
thing cannot belong to it, often the next line or the end of the file: those kinds point at the
line where the construct was opened. Indentation and stray characters point where YAML stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import yaml

At = Literal["opened", "stopped"]


@dataclass(frozen=True)
class _Kind:
    at: At  # the line where the construct was opened, or where YAML stopped reading
    words: str  # may name {char}, {name} and {first} (the line of a first anchor)


# (phrase in PyYAML's context or problem, kind): the first phrase found decides.
_PHRASES: tuple[tuple[str, str], ...] = (
    ("found unknown escape", "escape"),
    ("quoted scalar", "unclosed quote"),
    ("flow sequence", "unclosed list"),
    ("flow mapping", "unclosed mapping"),
    ("flow node", "missing flow value"),
    ("block node", "bad value start"),
    ("block mapping", "indentation"),
    ("block collection", "indentation"),
    ("simple key", "missing colon"),
    ("mapping values are not allowed", "unexpected colon"),
    ("for the next token", "bad value start"),
    ("scanning an alias", "anchor without name"),
    ("scanning an anchor", "anchor without name"),
    ("undefined alias", "undefined alias"),
    ("duplicate anchor", "duplicate anchor"),
    ("single document", "several documents"),
    ("block scalar", "block scalar header"),
    ("directive", "directive"),
    ("incompatible YAML document", "directive"),
    ("a tag", "tag"),
    ("tag handle", "tag"),
)

SYNTAX_KINDS: dict[str, _Kind] = {
    "unclosed list": _Kind("opened", 'this list is not closed (a "]" is missing?)'),
    "unclosed mapping": _Kind("opened", 'this mapping is not closed (a "}" is missing?)'),
    "unclosed quote": _Kind(
        "opened", "this quoted text is not closed (the closing quote is missing?)"
    ),
    "missing flow value": _Kind(
        "stopped", 'a value is missing here, inside "[...]" or "{...}" (a bracket not closed?)'
    ),
    "escape": _Kind(
        "stopped",
        'unknown escape after "\\" in double-quoted text; use single quotes, or write "\\\\" '
        "for a backslash",
    ),
    "bad value start": _Kind("stopped", 'a value cannot start with "{char}"; quote the value'),
    "tab": _Kind("stopped", "a tab cannot indent YAML; indent with spaces"),
    "indentation": _Kind(
        "stopped",
        "this line is not indented like the lines above it (check its leading spaces, or a "
        'missing "-" or ":")',
    ),
    "stray bracket": _Kind(
        "stopped", 'this "{char}" closes nothing (one too many, or its opening bracket is missing?)'
    ),
    "missing colon": _Kind(
        "opened", 'this line is neither "key: value" nor "- item" (a ":" is missing?)'
    ),
    "unexpected colon": _Kind(
        "stopped",
        'a ":" where no key can start: check the indentation of this line against the line '
        'above, or quote a value that contains ": "',
    ),
    "anchor without name": _Kind(
        "stopped",
        "an anchor (&) or alias (*) needs a name right after it; quote a value that starts "
        'with "&" or "*"',
    ),
    "undefined alias": _Kind(
        "stopped", "the alias {name} refers to no anchor before it (define &name first)"
    ),
    "duplicate anchor": _Kind(
        "stopped",
        "the anchor {name} is already defined on line {first}; give each anchor its own name",
    ),
    "several documents": _Kind(
        "stopped", 'a policy file holds one YAML document: remove this "---" or split the file'
    ),
    "block scalar header": _Kind(
        "stopped", 'after "|" or ">" only "-", "+" or an indentation digit may follow on that line'
    ),
    "tag": _Kind("stopped", "this YAML tag cannot be read; policy files use no tags: remove it"),
    "directive": _Kind(
        "stopped", "this YAML directive (%...) cannot be read; policy files need none: remove it"
    ),
}

_NAME = re.compile(r"[&*][^\s,\[\]{}]*")


def syntax_problem(
    err: yaml.MarkedYAMLError, text: str, syntax: Literal["yaml", "json"]
) -> tuple[int | None, str]:
    """(line, `YAML syntax error: <words>`) of the mistake, for either PyYAML parser."""
    kind_name = syntax_kind(err, text)
    prefix = "YAML" if syntax == "yaml" else "JSON"
    stopped = err.problem_mark or err.context_mark
    if kind_name is None:
        # A problem the table does not know: PyYAML's own words, which differ by parser.
        what = ", ".join(part for part in (err.context, err.problem) if part)
        line = stopped.line + 1 if stopped is not None else None
        return line, f"{prefix} syntax error: {what or 'cannot be parsed'}"
    kind = SYNTAX_KINDS[kind_name]
    mark = (err.context_mark or stopped) if kind.at == "opened" else stopped
    line = mark.line + 1 if mark is not None else None
    first = err.context_mark.line + 1 if err.context_mark is not None else "?"
    words = (
        kind.words.replace("{char}", _char_at(text, stopped))
        .replace("{name}", _name_at(text, stopped))
        .replace("{first}", str(first))
    )
    return line, f"{prefix} syntax error: {words}"


def syntax_kind(err: yaml.MarkedYAMLError, text: str) -> str | None:
    """The kind of a PyYAML error (a key of `SYNTAX_KINDS`), or None when it is not known."""
    said = f"{err.context or ''} | {err.problem or ''}"
    kind = next((kind for phrase, kind in _PHRASES if phrase in said), None)
    char = _char_at(text, err.problem_mark or err.context_mark)
    if kind == "bad value start":
        if char == "\t":
            return "tab"
        if not char.strip():
            return None  # never seen: YAML's own words, rather than an empty quote
    if kind == "indentation" and char in ("]", "}"):
        return "stray bracket"
    return kind


def _char_at(text: str, mark: yaml.Mark | None) -> str:
    if mark is None or not 0 <= mark.index < len(text):
        return ""
    return text[mark.index]


def _name_at(text: str, mark: yaml.Mark | None) -> str:
    found = _NAME.match(text, mark.index) if mark is not None else None
    return found.group() if found is not None else "(unnamed)"
