"""Load and validate policy files into a `PolicySet`, or report every problem of every file.

Two phases. Shape: each file on its own, read with line numbers (`source.py`) and validated by
`PolicyFile`. Meaning: across all files, from the data as written (so that a file with a shape
problem still counts): rule names unique, channel names unique, every `notify` names a channel
that some file defines. Every problem is a `path:line: message`; nothing half-valid is returned.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from acceptor.policy.errors import PolicyValidationError, Problem
from acceptor.policy.messages import found, validation_issues, with_location
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet
from acceptor.policy.source import DataPath, Issue, SourceTree, Syntax, describe, read_source

POLICY_SUFFIXES: dict[str, Syntax] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_NO_FILES = (
    "no policy files here (*.yaml, *.yml or *.json directly in this folder; subfolders are "
    "not read)"
)


def load_policy(paths: Sequence[str | Path]) -> PolicySet:
    """Load files and folders (a folder: its policy files, not its subfolders).

    Raises `PolicyValidationError` with every problem found, in all files at once.
    """
    if isinstance(paths, str | Path):
        raise TypeError("load_policy takes a list of paths, not one path")
    if not paths:
        raise ValueError("load_policy needs at least one file or folder")
    problems: list[Problem] = []
    with _no_cyclic_gc():
        loaded = [
            _load_file(display, path, problems) for display, path in _policy_files(paths, problems)
        ]
        problems.extend(_cross_file_problems(loaded))
        if problems:
            raise PolicyValidationError(problems)
        return PolicySet.from_documents(_document(item) for item in loaded)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a policy loads.

    Loading builds a million objects for 100,000 rules (YAML nodes, data, models), all alive
    until the end. Each collection walks them all again, and collections run every few
    hundred allocations: that took more than half of the load time. Nothing is lost by the
    pause: reference counting still frees what is dropped, and the collector runs as before
    afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@functools.cache
def cached_policy(path: str | Path) -> PolicySet:
    """The policy at `path`, loaded once per execution environment (Lambda reuses it).

    A failed load is not cached: it raises again on the next call, and nothing is decided.
    Tests reset it with `cached_policy.cache_clear()`.
    """
    return load_policy([path])


@dataclass(frozen=True)
class _Loaded:
    display: str
    tree: SourceTree
    model: PolicyFile | None


def _document(item: _Loaded) -> PolicyDocument:
    if item.model is None:
        raise AssertionError(f"{item.display} has problems but none were reported")
    rule_lines = {
        rule.name: item.tree.line_of(("rules", index))
        for index, rule in enumerate(item.model.rules)
    }
    return PolicyDocument(path=item.display, model=item.model, rule_lines=rule_lines)


def _policy_files(
    paths: Sequence[str | Path], problems: list[Problem]
) -> Iterator[tuple[str, Path]]:
    """(path as the user wrote it, file) for every policy file, each file once."""
    seen: set[Path] = set()
    for given in paths:
        display = str(given)
        path = Path(given)
        try:
            if path.is_dir():
                found = sorted(
                    child
                    for child in path.iterdir()
                    if child.suffix.lower() in POLICY_SUFFIXES
                    and not child.name.startswith(".")
                    and child.is_file()
                )
                if not found:
                    problems.append(Problem(display, None, _NO_FILES))
                files = [(os.path.join(display, child.name), child) for child in found]
            elif path.is_file():
                files = [(display, path)]
            else:
                problems.append(Problem(display, None, "no such file or folder"))
                continue
        except OSError as err:
            problems.append(Problem(display, None, f"cannot be read: {err.strerror or err}"))
            continue
        for shown, file in files:
            real = file.resolve()
            if real not in seen:
                seen.add(real)
                yield shown, file


def _load_file(display: str, path: Path, problems: list[Problem]) -> _Loaded:
    syntax = POLICY_SUFFIXES.get(path.suffix.lower(), "yaml")
    empty = _Loaded(display, SourceTree(syntax=syntax), None)
    try:
        raw = path.read_bytes()
    except OSError as err:
        problems.append(Problem(display, None, f"cannot be read: {err.strerror or err}"))
        return empty
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        problems.append(
            Problem(
                display,
                line,
                f"is not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as UTF-8",
            )
        )
        return empty
    tree, issues = read_source(text, syntax)
    problems.extend(_problem(display, issue, tree) for issue in issues)
    if not tree.lines:
        # Nothing was parsed: an empty file (or comments only), or a syntax error.
        if not issues:
            problems.append(
                Problem(
                    display,
                    1,
                    "the file is empty; a policy file needs at least version: 1 and services",
                )
            )
        return _Loaded(display, tree, None)
    if not isinstance(tree.data, dict):
        if () in tree.unreadable:
            return _Loaded(display, tree, None)
        written = tree.written.get(())
        kind = found(tree.data) if written is None else describe(tree.data, written, syntax)
        problems.append(
            Problem(
                display,
                tree.line_of(()),
                f"the top level must be a mapping (version: 1, services: [...], rules: [...]); "
                f"found {kind}",
            )
        )
        return _Loaded(display, tree, None)
    try:
        model = PolicyFile.model_validate(tree.data)
    except ValidationError as err:
        problems.extend(_problem(display, issue, tree) for issue in validation_issues(err, tree))
        return _Loaded(display, tree, None)
    return _Loaded(display, tree, model if not issues else None)


def _problem(display: str, issue: Issue, tree: SourceTree) -> Problem:
    return Problem(display, issue.line, with_location(issue.path, issue.message, tree.data))


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _cross_file_problems(loaded: list[_Loaded]) -> list[Problem]:
    problems: list[Problem] = []
    rules: dict[str, str] = {}
    channels: dict[str, str] = {}
    references: list[tuple[_Loaded, DataPath, str]] = []

    for item in sorted(loaded, key=lambda i: i.display):
        data = item.tree.data
        if not isinstance(data, dict):
            continue
        for index, rule in _items(data.get("rules")):
            if not isinstance(rule, dict):
                continue
            name = rule.get("name")
            if isinstance(name, str):
                earlier = _first(rules, name, item, ("rules", index, "name"))
                if earlier is not None:
                    message = (
                        f"this name is also used at {earlier} (rule names must be unique "
                        "across all policy files loaded together): rename one"
                    )
                    problems.append(_at(item, ("rules", index, "name"), ("rules", index), message))
            for position, channel in _items(rule.get("notify")):
                references.append((item, ("rules", index, "notify", position), channel))
        notifications = data.get("notifications")
        for channel in notifications if isinstance(notifications, dict) else {}:
            earlier = _first(channels, channel, item, ("notifications", channel))
            if earlier is not None:
                message = (
                    f"channel {channel!r} is also defined at {earlier} (channel names must "
                    "be unique across all policy files): rename or remove one"
                )
                where: DataPath = ("notifications", channel)
                problems.append(_at(item, where, where, message))
        for position, channel in _items(data.get("notify")):
            references.append((item, ("notify", position), channel))

    for item, where, channel in references:
        if isinstance(channel, str) and channel not in channels:
            problems.append(_at(item, where, where, _unknown_channel(channel, sorted(channels))))
    return problems


def _first(places: dict[str, str], name: str, item: _Loaded, path: DataPath) -> str | None:
    """Where `name` was first seen, or None (and remember this place) when this is the first."""
    earlier = places.get(name)
    if earlier is None:
        places[name] = f"{item.display}:{item.tree.line_of(path)}"
    return earlier


def _at(item: _Loaded, line_path: DataPath, location: DataPath, message: str) -> Problem:
    line = item.tree.line_of(line_path)
    return Problem(item.display, line, with_location(location, message, item.tree.data))


def _unknown_channel(channel: str, defined: list[str]) -> str:
    message = f"channel {channel!r} is not defined under notifications in any policy file"
    close = difflib.get_close_matches(channel, defined, n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    if defined:
        return f"{message}; defined channels: {', '.join(defined)}"
    return f"{message}; add it under notifications:, e.g. {channel}: {{type: sns}}"
