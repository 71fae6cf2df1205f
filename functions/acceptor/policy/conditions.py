"""The condition kinds of a rule's `when`, as one table (docs/architecture.md, "Policy semantics
and the decision order").

Each kind names the fact it tests, how a condition is prepared once for fast tests, how a known
fact is tested, and how the index files and finds rules by it. An unknown fact (`None`) is never
passed to `test`: the caller turns it into the *unknown* status.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["matched", "unmatched", "unknown"]

ANY_VALUE = "*"


@dataclass(frozen=True)
class ConditionKind:
    fact: str
    prepare: Callable[[Any], Any]
    test: Callable[[Any, Any], bool]
    index_keys: Callable[[Any], Iterable[Hashable]]
    """The keys a rule anchored on this condition is filed under; it can only match a fact
    that `probe_keys` maps to one of them."""
    probe_keys: Callable[[Any], Iterable[Hashable]]
    after_anchor: Callable[[Any], Any | None]
    """What of a condition is still to test once the index found a rule by it (the probe key
    equal to an index key proves that much of it true); None when nothing is left."""
    anchor_rank: int
    """Lower is preferred as a rule's index anchor: the more selective and the more often
    known, the fewer candidates a decision has to check."""


def _one_of(allowed: frozenset[str], value: str) -> bool:
    return value in allowed


def _listed(allowed: frozenset[str]) -> Iterable[str]:
    return allowed


def _itself(value: str) -> tuple[str]:
    return (value,)


def _in_ou(allowed: frozenset[str], ou_path: tuple[str, ...]) -> bool:
    # The account is in an OU, or below it, exactly when that OU is on its path from the root.
    return not allowed.isdisjoint(ou_path)


def _path(ou_path: tuple[str, ...]) -> tuple[str, ...]:
    return ou_path


TagTest = tuple[tuple[str, frozenset[str] | None], ...]
"""Per listed key, the values allowed; None when any value is ("*")."""


def _prepare_tags(condition: Mapping[str, str | list[str]]) -> TagTest:
    prepared = []
    for key, wanted in condition.items():
        values = frozenset([wanted] if isinstance(wanted, str) else wanted)
        prepared.append((key, None if ANY_VALUE in values else values))
    return tuple(prepared)


def _tags_match(prepared: TagTest, tags: Mapping[str, str]) -> bool:
    for key, values in prepared:
        if key not in tags:
            return False
        if values is not None and tags[key] not in values:
            return False
    return True


def _tag_index_keys(prepared: TagTest) -> Iterator[tuple[str, str | None]]:
    # Anchored on the first listed key: (key, value) pairs, or (key, None) for "any value".
    key, values = prepared[0]
    if values is None:
        yield (key, None)
    else:
        for value in values:
            yield (key, value)


def _tags_after_first(prepared: TagTest) -> TagTest | None:
    return prepared[1:] or None


def _nothing_left(prepared: object) -> None:
    return None


def _tag_probe_keys(tags: Mapping[str, str]) -> Iterator[tuple[str, str | None]]:
    for key, value in tags.items():
        yield (key, value)
        yield (key, None)


def _set_kind(fact: str, rank: int) -> ConditionKind:
    return ConditionKind(fact, frozenset, _one_of, _listed, _itself, _nothing_left, rank)


def _tag_kind(fact: str, rank: int) -> ConditionKind:
    return ConditionKind(
        fact,
        _prepare_tags,
        _tags_match,
        _tag_index_keys,
        _tag_probe_keys,
        _tags_after_first,
        rank,
    )


CONDITIONS: dict[str, ConditionKind] = {
    "endpoints": _set_kind("endpoint_id", 0),
    "vpcs": _set_kind("vpc_id", 1),
    "accounts": _set_kind("account", 2),
    "organizational_units": ConditionKind(
        "ou_path", frozenset, _in_ou, _listed, _path, _nothing_left, 3
    ),
    "tags": _tag_kind("tags", 4),
    "vpc_tags": _tag_kind("vpc_tags", 5),
    "regions": _set_kind("region", 6),
}


class UnsupportedCondition(ValueError):
    """A rule uses a condition kind the evaluator does not know: it must never decide."""


def kind_of(name: str) -> ConditionKind:
    try:
        return CONDITIONS[name]
    except KeyError as err:
        raise UnsupportedCondition(
            f"condition {name!r} has no evaluator; refusing to decide with this policy"
        ) from err
