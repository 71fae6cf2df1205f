"""Read a policy file's text into plain data, keeping the line of every key and list item.

Hand-written because neither library keeps lines: PyYAML's `safe_load` drops the node marks
and silently keeps the last of two equal keys, and pydantic reports a `loc` path, not a line.
So we compose the YAML node tree ourselves, build the data from it and record, for every path,
the line of its key (or list item). JSON goes through the same walker after `json` itself has
checked the syntax, with each scalar decoded by `json`, so JSON keeps JSON's meaning.

The tree is composed by libyaml's C parser where PyYAML has it (PyYAML's pure-Python parser
otherwise: same nodes, same lines, several times slower). Files have no size limit; what is
bounded is what aliases repeat (an alias bomb), and how deep the text nests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import Reader

from acceptor.policy.syntax import syntax_problem

PathPart = str | int
DataPath = tuple[PathPart, ...]
Syntax = Literal["yaml", "json"]

_MAP_TAG = frozenset({"tag:yaml.org,2002:map"})
_SEQ_TAG = frozenset({"tag:yaml.org,2002:seq"})
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "binary")
)
_STR_TAG = "tag:yaml.org,2002:str"
# Aliases can make a small file expand to billions of values ("billion laughs"). A file without
# aliases expands nothing, whatever its size; one that uses a few for shared lists expands
# thousands of values at most.
MAX_ALIAS_EXPANSIONS = 100_000
ALIAS_BOMB = (
    f"YAML aliases expand to more than {MAX_ALIAS_EXPANSIONS} values (an alias bomb?); "
    "write the values out instead of repeating aliases"
)


@dataclass(frozen=True)
class Issue:
    """A problem found while reading: at `path` (for its location) and `line`."""

    path: DataPath
    line: int | None
    message: str


@dataclass
class SourceTree:
    """The data of one file, the line of every path in it, and how its non-text values looked."""

    syntax: Syntax
    data: Any = None
    lines: dict[DataPath, int] = field(default_factory=dict)
    # The text as written of every scalar that did not become a string (numbers, booleans,
    # null, dates), so that a message can show `011122223333`, not the octal 1234567.
    written: dict[DataPath, str] = field(default_factory=dict)
    # Values that could not be read in full (an issue says why): the model's complaint about
    # the same value (missing keys, no value) would only repeat it.
    unreadable: set[DataPath] = field(default_factory=set)

    def line_of(self, path: DataPath) -> int:
        """The line of the deepest part of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


def read_source(text: str, syntax: Syntax) -> tuple[SourceTree, list[Issue]]:
    """Parse `text`; the tree's data is None when the file is empty or cannot be parsed."""
    text = text.removeprefix("\ufeff")
    tree = SourceTree(syntax=syntax)
    if syntax == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            return tree, [Issue((), err.lineno, f"JSON syntax error: {err.msg}")]
        except RecursionError:
            return tree, [Issue((), None, "JSON nested too deeply")]
        # Outside strings, a tab is only whitespace in JSON, and PyYAML refuses tabs there.
        text = text.replace("\t", " ")
    # Checked here, with PyYAML's own definition, rather than left to the reader: libyaml
    # reports the byte offset of the character and PyYAML the character offset.
    unprintable = Reader.NON_PRINTABLE.search(text)
    if unprintable is not None:
        line = text.count("\n", 0, unprintable.start()) + 1
        message = f"the character #x{ord(unprintable.group()):04x} is not allowed"
        return tree, [Issue((), line, message)]
    try:
        root = _compose(text)
        if root is None:
            return tree, []
        walker = _Walker(text, tree)
        tree.data = walker.build(root, (), root.start_mark.line + 1)
    except _AliasBomb as bomb:
        # Refused whole: what was built so far is only part of the file.
        return SourceTree(syntax=syntax), [Issue((), bomb.line, ALIAS_BOMB)]
    except yaml.MarkedYAMLError as err:
        where, message = syntax_problem(err, text, syntax)
        return SourceTree(syntax=syntax), [Issue((), where, message)]
    except yaml.YAMLError as err:
        # A reader problem the check above did not foresee: no line to give.
        return SourceTree(syntax=syntax), [Issue((), None, f"cannot be read as text: {err}")]
    except RecursionError:
        return SourceTree(syntax=syntax), [Issue((), None, "nested too deeply to read")]
    return tree, walker.issues


def _compose(text: str) -> Node | None:
    """The node tree of `text`, with libyaml's C parser when PyYAML was built with it.

    Both loaders give the same nodes (the tags are resolved by the same Python resolver), with
    the same marks: line and character index. The pure-Python one is several times slower.
    """
    if not yaml.__with_libyaml__:
        return _compose_with(yaml.SafeLoader, text)
    if _nesting_bound(text) <= MAX_C_NESTING:
        return _compose_with(yaml.CSafeLoader, text)
    return _compose_on_a_large_stack(text)


def _compose_with(loader_class: type[yaml.SafeLoader | yaml.CSafeLoader], text: str) -> Node | None:
    loader = loader_class(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


# libyaml's composer recurses in C, out of reach of Python's recursion limit: about 30,000
# nested "[" overflow an 8 MB stack and kill the process. A text that may nest deeper than this
# is composed on a thread of its own with a stack for 500,000 levels, which libyaml's scanner
# (quadratic in the depth) never reaches in practice. The walker then refuses it, as it refuses
# anything nested deeper than Python's recursion limit.
MAX_C_NESTING = 2_000
_LARGE_STACK = 128 * 1024 * 1024


def _nesting_bound(text: str) -> int:
    """At least the nesting depth of `text`, cheaply: a flow level needs a "[" or "{"; a block
    level needs a column of indentation or an indicator ("- ", "? ") on its line."""
    flow = text.count("[") + text.count("{")
    if flow > MAX_C_NESTING:
        return flow
    return flow + 2 * max(map(len, text.split("\n"))) + 2


def _compose_on_a_large_stack(text: str) -> Node | None:
    outcome: list[Node | None] = []
    failure: list[BaseException] = []

    def compose() -> None:
        try:
            outcome.append(_compose_with(yaml.CSafeLoader, text))
        except (yaml.YAMLError, RecursionError, MemoryError) as err:
            failure.append(err)  # raised again in the caller's thread

    previous = threading.stack_size(_LARGE_STACK)
    try:
        worker = threading.Thread(target=compose, name="policy-yaml")
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    if failure:
        raise failure[0]
    if not outcome:
        raise RuntimeError("composing the policy text failed; see the thread's traceback")
    return outcome[0]


class _AliasBomb(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Walker:
    """Builds the data and its lines from the node tree, in one pass.

    Called for every node of files with a million of them: the common cases (a text scalar,
    a text key) are handled inline, and everything else goes through the general methods.
    """

    def __init__(self, text: str, tree: SourceTree) -> None:
        self.text = text
        self.tree = tree
        self.lines = tree.lines
        self.yaml = tree.syntax == "yaml"
        self.issues: list[Issue] = []
        self.constructor = SafeConstructor()
        # Every list and mapping is built once; one built again was reached through an alias.
        # Those repeats are what an alias bomb multiplies, so they are counted, not the values.
        self.built: set[int] = set()
        self.expanded = 0
        self.open: set[int] = set()

    def build(self, node: Node, path: DataPath, line: int) -> Any:
        self.lines[path] = line
        if isinstance(node, ScalarNode):
            if self.yaml and node.tag == _STR_TAG:
                return node.value
            return self._scalar(node, path)
        ident = id(node)
        if ident in self.built:
            if not self._may_expand(node, path, line):
                return None
        else:
            self.built.add(ident)
        self.open.add(ident)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            raise TypeError(f"not a YAML node: {node!r}")
        finally:
            self.open.discard(ident)

    def _may_expand(self, node: Node, path: DataPath, line: int) -> bool:
        """Count a list or mapping reached again through an alias, with its items; False when
        it must not be built. (A scalar alias repeats one value per `*name` written: only
        collections multiply.)"""
        if id(node) in self.open:
            self._unreadable(path, node, "a YAML alias refers to itself")
            return False
        self.expanded += 1 + len(node.value)
        if self.expanded > MAX_ALIAS_EXPANSIONS:
            raise _AliasBomb(line)
        return True

    def _tag_ok(self, node: Node, path: DataPath, allowed: frozenset[str]) -> bool:
        if node.tag in allowed:
            return True
        self._unreadable(path, node, f"unsupported YAML tag {node.tag!r}; remove it")
        return False

    def _unreadable(self, path: DataPath, node: Node, message: str) -> None:
        self.tree.unreadable.add(path)
        self.issues.append(Issue(path, node.start_mark.line + 1, message))

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[str, Any] | None:
        if not self._tag_ok(node, path, _MAP_TAG):
            return None
        result: dict[str, Any] = {}
        lines, is_yaml = self.lines, self.yaml
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if is_yaml and type(key_node) is ScalarNode and key_node.tag == _STR_TAG:
                key = key_node.value
            else:
                key = self._key(key_node, path, line)
                if key is None:
                    continue
            child = (*path, key)
            if key in result:
                # The line of the first one: set when its value was built.
                self.issues.append(
                    Issue(
                        path,
                        line,
                        f"duplicate key {key!r} (first at line {self.lines[child]}); "
                        f"{self.tree.syntax.upper()} readers silently keep only the last one: "
                        "merge them or remove one",
                    )
                )
            # A text value (most nodes) is taken here, sparing a call to `build` per value.
            if is_yaml and type(value_node) is ScalarNode and value_node.tag == _STR_TAG:
                lines[child] = line
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, child, line)
        return result

    def _key(self, node: Node, path: DataPath, line: int) -> str | None:
        if node.tag == _MERGE_TAG:
            self._unreadable(
                path, node, "YAML merge keys (<<) are not supported; write the keys out"
            )
            return None
        if not isinstance(node, ScalarNode):
            self.issues.append(Issue(path, line, "a key must be plain text, not a list or map"))
            return None
        key = self._scalar(node, path)
        if isinstance(key, str):
            return key
        written = self._written(node)
        self.issues.append(
            Issue(path, line, f"key {written} {read_as(key, written, self.tree.syntax)}")
        )
        return written

    def _sequence(self, node: SequenceNode, path: DataPath) -> list[Any] | None:
        if not self._tag_ok(node, path, _SEQ_TAG):
            return None
        result: list[Any] = []
        lines, is_yaml = self.lines, self.yaml
        for index, item in enumerate(node.value):
            line = item.start_mark.line + 1
            if is_yaml and type(item) is ScalarNode and item.tag == _STR_TAG:
                lines[(*path, index)] = line
                result.append(item.value)
            else:
                result.append(self.build(item, (*path, index), line))
        return result

    def _scalar(self, node: ScalarNode, path: DataPath) -> Any:
        if self.tree.syntax == "json":
            # A JSON string without escapes reads the same in YAML; anything else is decoded
            # by `json`, so that JSON keeps JSON's meaning.
            written = self._written(node)
            if node.style == '"' and "\\" not in written:
                return node.value
            value = json.loads(written)
        elif node.tag == _STR_TAG:
            # What SafeConstructor would return, without its per-node bookkeeping.
            return node.value
        elif self._tag_ok(node, path, _SCALAR_TAGS):
            written = self._written(node)
            try:
                value = self.constructor.construct_object(node, deep=True)
            except ConstructorError as err:
                self._unreadable(path, node, f"cannot read this value: {err.problem}")
                return None
        else:
            return None
        if not isinstance(value, str):
            self.tree.written[path] = written
        return value

    def _written(self, node: Node) -> str:
        return self.text[node.start_mark.index : node.end_mark.index]


def describe(value: Any, written: str, syntax: Syntax) -> str:
    """What a non-text scalar was read as, e.g. `the number 1234567 (octal)`."""
    prefix = "the JSON " if syntax == "json" else "the "
    if value is None:
        return "JSON null" if syntax == "json" else "null (no value)"
    if isinstance(value, bool):
        return f"{prefix}boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"{prefix}number {value}{_base_note(written)}"
    if isinstance(value, float):
        return f"{prefix}number {value}"
    if isinstance(value, bytes):
        return "binary data"
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return f"the date {isoformat()}"
    return f"a {type(value).__name__}"


def _base_note(written: str) -> str:
    digits = written.strip().lstrip("+-").replace("_", "").lower()
    if ":" in digits:
        return " (base 60)"
    for prefix, note in (("0x", " (hexadecimal)"), ("0b", " (binary)")):
        if digits.startswith(prefix):
            return note
    if len(digits) > 1 and digits.startswith("0"):
        return " (octal)"
    return ""


def read_as(value: Any, written: str, syntax: Syntax) -> str:
    """The end of a message about a value that should have been text: why, and the fix."""
    quoted = json.dumps(written)
    if syntax == "json":
        return f"is {describe(value, written, syntax)}; write it as a string: {quoted}"
    return f"was read by YAML as {describe(value, written, syntax)}; quote it: {quoted}"
