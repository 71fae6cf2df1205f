"""Policy tests (docs/policy.md, "Testing your policy"): read test files, decide each test's
facts with the policy, and compare with what the test expects.

A policy folder's tests live in its `tests/` subfolder (`policies/tests/*.yaml`), each file a
list of `{name, facts, expect}`. Test files are read the way policy files are: the same line
keeping reader (`acceptor.policy.source`) and pydantic messages (`acceptor.policy.messages`),
so a bad test file is reported as `path:line: message` like a bad policy.

Every test is decided by `decide`, which calls `decide_one`, the function Decide runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from acceptor.contract import RequestedDetail
from acceptor.decision.connection import PENDING, Connection
from acceptor.decision.decide_one import Decision, decide_one
from acceptor.decision.gather import RequestFacts
from acceptor.decision.records import NO_RECORDS
from acceptor.policy.errors import PolicyValidationError, Problem
from acceptor.policy.evaluate import Outcome
from acceptor.policy.facts import Facts, FactsError, FactsFile
from acceptor.policy.loader import POLICY_SUFFIXES
from acceptor.policy.messages import found, validation_issues
from acceptor.policy.model import Name
from acceptor.policy.policy_set import PolicySet
from acceptor.policy.schema import editor_schema, render
from acceptor.policy.source import DataPath, SourceTree, describe, read_source

TESTS_FOLDER = "tests"
MISSING_TEST_NAME = "missing_test_name"
TEST_SCHEMA_FILE = "schema/policy-test-v1.schema.json"
REGENERATE_TEST_SCHEMA = f"acceptor policy schema --tests > {TEST_SCHEMA_FILE}"


class CaseFacts(FactsFile):
    """A facts file, plus the count a `limits` step needs."""

    connections: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None,
        description="the account's connections to the service (pending or available), this "
        "request included; absent: unknown, which holds a request a limit governs",
    )


class Expectation(BaseModel):
    """The decision a test expects, and optionally the rule that decides it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Outcome
    rule: Name | None = Field(
        default=None, description="the deciding rule's name (not checked when absent)"
    )


class PolicyTest(BaseModel):
    """One test: facts as in a facts file, and the decision the policy must make for them."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"required": ["name", "facts", "expect"]},
    )

    # Optional to pydantic only so that a missing name gets a message about tests (below).
    name: Annotated[
        Annotated[str, Field(strict=True, min_length=1, max_length=200)] | None,
        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200}),
    ] = Field(default=None, description="what the test shows, unique in its file")
    facts: CaseFacts
    expect: Outcome | Expectation = Field(
        description="a decision (accept, reject, hold, ignore), or {decision, rule}"
    )

    @model_validator(mode="after")
    def _named(self) -> PolicyTest:
        if self.name is None:
            raise PydanticCustomError(
                MISSING_TEST_NAME,
                "missing required key 'name'; give every test a name, unique in its file",
            )
        return self

    @property
    def expectation(self) -> Expectation:
        if isinstance(self.expect, Expectation):
            return self.expect
        return Expectation(decision=self.expect)


class PolicyTestFile(RootModel[list[PolicyTest]]):
    """A policy test file: a list of tests."""


def policy_test_schema() -> dict[str, Any]:
    """The JSON Schema of test files. A facts key may be null there: null means unknown."""
    return editor_schema(
        PolicyTestFile,
        schema_id="urn:privatelink-acceptor:schema:policy-test-v1",
        title="PrivateLink Acceptor policy tests, version 1",
        description=(
            "A list of tests, each {name, facts, expect}: the facts of one connection request "
            "(as in a facts file) and the decision the policy must make. "
            "Run with: acceptor policy test"
        ),
        nulls=True,
    )


def render_test_schema() -> str:
    return render(policy_test_schema())


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    facts: Facts
    connections: int | None
    decision: Outcome
    rule: str | None


@dataclass(frozen=True)
class CaseFile:
    path: str
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class CaseResult:
    path: str
    case: Case
    decision: Decision

    @property
    def passed(self) -> bool:
        if self.decision.decision != self.case.decision:
            return False
        return self.case.rule is None or self.decision.rule == self.case.rule

    def __str__(self) -> str:
        """`path:line: test NAME: want X, got Y (reason)`."""
        case, got = self.case, self.decision
        want: str = case.decision
        shown: str = got.decision
        if case.rule is not None:
            want += f" by rule {case.rule!r}"
            shown += f" by rule {got.rule!r}" if got.rule is not None else " by no rule"
        return f"{self.path}:{case.line}: test {case.name}: want {want}, got {shown} ({got.reason})"


@dataclass(frozen=True)
class Suite:
    """Where the policy is, and which test files to run against it."""

    policy: Path
    tests: Path
    files: tuple[Path, ...]


# What Decide always knows of a request but a test may leave out because its policy does not
# test it. They stand in only for the request and the connection `decide_one` screens (a pending
# request to the test's service); the facts the policy is asked about stay as the test wrote
# them, so a fact a test leaves out is unknown to the policy, as in a facts file.
PLACEHOLDER_ENDPOINT = "vpce-00000000000000000"
PLACEHOLDER_ACCOUNT = "000000000000"
PLACEHOLDER_REGION = "us-east-1"
# A test's request is decided as it arrives: created now, so no hold has expired yet.
TEST_TIME = datetime(2025, 1, 1, tzinfo=UTC)
CORRELATION = "acceptor-policy-test"


def decide(policy: PolicySet, facts: Facts, connections: int | None) -> Decision:
    """The decision a test checks: `decide_one`, the function Decide runs, for a pending
    request with these facts and this connection count (None: unknown)."""
    request = RequestedDetail(
        service_id=facts.service_id,
        endpoint_id=facts.endpoint_id or PLACEHOLDER_ENDPOINT,
        account=facts.account or PLACEHOLDER_ACCOUNT,
        region=facts.region or PLACEHOLDER_REGION,
        state=PENDING,
        created_at=TEST_TIME,
        origin="sweep",
        correlation_id=CORRELATION,
    )
    connection = Connection(
        request.service_id,
        request.endpoint_id,
        request.account,
        request.region,
        PENDING,
        TEST_TIME,
    )
    return decide_one(
        request,
        connection,
        RequestFacts(facts),
        NO_RECORDS,
        policy,
        TEST_TIME,
        connections=connections,
    )


def run_tests(policy: PolicySet, files: Sequence[CaseFile]) -> list[CaseResult]:
    return [
        CaseResult(file.path, case, decide(policy, case.facts, case.connections))
        for file in files
        for case in file.cases
    ]


def find_tests(path: Path) -> Suite:
    """The policy and test files PATH points at: a policy folder (its tests/ subfolder holds the
    tests), a tests folder (the policy is the folder above), or one test file."""
    # normpath, not .parent: the folder above `tests` given as `.` is `..`.
    if path.is_file():
        return Suite(_above(path, 2), _above(path, 1), (path,))
    if path.name == TESTS_FOLDER:
        return Suite(_above(path, 1), path, files_in(path))
    folder = path / TESTS_FOLDER
    return Suite(path, folder, files_in(folder))


def _above(path: Path, levels: int) -> Path:
    return Path(os.path.normpath(os.path.join(path, *[os.pardir] * levels)))


def files_in(folder: Path) -> tuple[Path, ...]:
    """The test files directly in `folder` (as for policy files: no subfolders, no hidden)."""
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(
            child
            for child in folder.iterdir()
            if child.suffix.lower() in POLICY_SUFFIXES
            and not child.name.startswith(".")
            and child.is_file()
        )
    )


def load_test_files(files: Sequence[tuple[str, Path]]) -> tuple[CaseFile, ...]:
    """Read (path as shown, file) pairs; raise `PolicyValidationError` with every problem."""
    problems: list[Problem] = []
    loaded = tuple(_load(display, file, problems) for display, file in files)
    if problems:
        raise PolicyValidationError(problems)
    return loaded


def _load(display: str, file: Path, problems: list[Problem]) -> CaseFile:
    empty = CaseFile(display, ())
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        problems.append(Problem(display, None, f"cannot be read: {err}"))
        return empty
    tree, issues = read_source(text, POLICY_SUFFIXES.get(file.suffix.lower(), "yaml"))
    for issue in issues:
        problems.append(Problem(display, issue.line, _located(issue.path, issue.message, tree)))
    if issues:
        return empty
    if not tree.lines:
        problems.append(Problem(display, 1, f"the file is empty; {_SHAPE}"))
        return empty
    if not isinstance(tree.data, list) or not tree.data:
        written = tree.written.get(())
        kind = found(tree.data) if written is None else describe(tree.data, written, tree.syntax)
        what = "an empty list" if tree.data == [] else kind
        problems.append(Problem(display, tree.line_of(()), f"{_SHAPE}; found {what}"))
        return empty
    try:
        parsed = PolicyTestFile.model_validate(tree.data)
    except ValidationError as err:
        for issue in validation_issues(err, tree):
            message = _located(issue.path, issue.message, tree)
            problems.append(Problem(display, issue.line, message))
        return empty
    cases: list[Case] = []
    first_line: dict[str, int] = {}
    for index, test in enumerate(parsed.root):
        name = test.name or ""
        line = tree.line_of((index,))
        if name in first_line:
            message = (
                f"test name {name!r} is also used at line {first_line[name]}; "
                "give each test its own name"
            )
            problems.append(Problem(display, tree.line_of((index, "name")), message))
        first_line.setdefault(name, line)
        facts = test.facts.model_dump(exclude={"connections"}, exclude_none=True)
        try:
            known = Facts.from_mapping(facts)
        except FactsError as err:
            where = tree.line_of((index, "facts"))
            for facts_problem in err.problems:
                located = _located((index, "facts"), str(facts_problem), tree)
                problems.append(Problem(display, where, located))
            continue
        expected = test.expectation
        cases.append(
            Case(name, line, known, test.facts.connections, expected.decision, expected.rule)
        )
    return CaseFile(display, tuple(cases))


_SHAPE = (
    "a test file is a list of tests, each {name, facts, expect}: "
    "- {name: ..., facts: {service_id: ...}, expect: accept}"
)


def _located(path: DataPath, message: str, tree: SourceTree) -> str:
    """`test 'NAME': facts.account: message`, or `test #3: ...` for a test with no name."""
    if not path or not isinstance(path[0], int):
        return message
    index = path[0]
    entry: Any = tree.data[index] if isinstance(tree.data, list) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    where = f"test {name!r}" if isinstance(name, str) and name else f"test #{index + 1}"
    rest = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in path[1:])
    rest = rest.replace(".[", "[")
    return ": ".join(part for part in (where, rest, message) if part)
