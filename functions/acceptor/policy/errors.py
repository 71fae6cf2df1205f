"""What goes wrong with policy files, told as `path:line: message`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class PolicyError(Exception):
    """Base of every policy error: the policy cannot be used, so nothing is decided from it."""


@dataclass(frozen=True)
class Problem:
    """One problem in one file. `line` is None when the problem is not in a line (a folder)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class PolicyValidationError(PolicyError):
    """Every problem found in every file of one load, ordered by path and line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.path, p.line or 0))
        if not ordered:
            raise ValueError("a PolicyValidationError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(ordered)
        super().__init__("\n".join(str(p) for p in self.problems))
