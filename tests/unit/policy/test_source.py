"""Reading policy text: libyaml's C parser and PyYAML's pure-Python one give the same data, lines
and errors; YAML syntax errors are in the project's words at the line of the mistake; aliases
are bounded by what they expand, not by the size of the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from acceptor.policy import source as source_module
from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import POLICY_SUFFIXES, load_policy
from acceptor.policy.source import MAX_ALIAS_EXPANSIONS, read_source
from acceptor.policy.syntax import SYNTAX_KINDS, syntax_kind, syntax_problem

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
HEAD = "version: 1\nservices: [vpce-svc-0123456789abcdef0]\n"
RULE = "rules:\n  - name: r\n    decision: accept\n"
PARSERS = ["libyaml", "python"]
POLICY_FIXTURES = ("tests/fixtures/policies/valid/folder", "tests/fixtures/policies/invalid")
READABLE = sorted(
    path
    for folder in ("policies", "policies/examples", *POLICY_FIXTURES)
    for path in (ROOT / folder).iterdir()
    if path.suffix in POLICY_SUFFIXES
)


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with libyaml's C parser, then with the pure-Python fallback."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    if request.param == "python":
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
    return str(request.param)


# kind -> (file text, line of the mistake, the words after "YAML syntax error: ")
SYNTAX_CASES: dict[str, tuple[str, int, str]] = {
    "unclosed list": (
        HEAD + RULE + "    when:\n      accounts: ['111122223333',\n        '444455556666'\n"
        "      regions: [us-east-1]\n",
        7,
        'this list is not closed (a "]" is missing?)',
    ),
    "unclosed mapping": (
        HEAD + RULE + "    when: {regions: [us-east-1]\n    notify: [ops]\n",
        6,
        'this mapping is not closed (a "}" is missing?)',
    ),
    "unclosed quote": (
        HEAD + RULE + "    when:\n      accounts: ['111122223333]\n      regions: [us-east-1]\n",
        7,
        "this quoted text is not closed (the closing quote is missing?)",
    ),
    "missing flow value": (
        HEAD + "rules: [\n",
        4,
        'a value is missing here, inside "[...]" or "{...}" (a bracket not closed?)',
    ),
    "escape": (
        HEAD + 'default: "ho\\ld"\n',
        3,
        'unknown escape after "\\" in double-quoted text; use single quotes, or write "\\\\" '
        "for a backslash",
    ),
    "bad value start": (
        HEAD + "notify: [ops]\nrules: @team\n",
        4,
        'a value cannot start with "@"; quote the value',
    ),
    "tab": (HEAD + "rules:\n\t- name: r\n", 4, "a tab cannot indent YAML; indent with spaces"),
    "indentation": (
        HEAD + RULE + "   when: {regions: [us-east-1]}\n",
        6,
        "this line is not indented like the lines above it (check its leading spaces, or a "
        'missing "-" or ":")',
    ),
    "stray bracket": (
        HEAD + "notify: [ops]]\n",
        3,
        'this "]" closes nothing (one too many, or its opening bracket is missing?)',
    ),
    "missing colon": (
        HEAD + "default hold\nrevoke: true\n",
        3,
        'this line is neither "key: value" nor "- item" (a ":" is missing?)',
    ),
    "unexpected colon": (
        HEAD + "default: hold\n  revoke: true\n",
        4,
        'a ":" where no key can start: check the indentation of this line against the line '
        'above, or quote a value that contains ": "',
    ),
    "anchor without name": (
        HEAD + "notify: [* ops]\n",
        3,
        "an anchor (&) or alias (*) needs a name right after it; quote a value that starts "
        'with "&" or "*"',
    ),
    "undefined alias": (
        HEAD + "notify: [ops]\nrules: *prod_rules\n",
        4,
        "the alias *prod_rules refers to no anchor before it (define &name first)",
    ),
    "duplicate anchor": (
        HEAD + "notify: &ops [ops]\nrules: &ops []\n",
        4,
        "the anchor &ops is already defined on line 3; give each anchor its own name",
    ),
    "several documents": (
        HEAD + "---\n" + HEAD,
        3,
        'a policy file holds one YAML document: remove this "---" or split the file',
    ),
    "block scalar header": (
        HEAD + "default: |x\n  hold\n",
        3,
        'after "|" or ">" only "-", "+" or an indentation digit may follow on that line',
    ),
    "tag": (
        HEAD + "default: !x!y hold\n",
        3,
        "this YAML tag cannot be read; policy files use no tags: remove it",
    ),
    "directive": (
        "%YAML 2.0\n---\n" + HEAD,
        1,
        "this YAML directive (%...) cannot be read; policy files need none: remove it",
    ),
}


def test_every_kind_of_syntax_error_has_a_case() -> None:
    assert set(SYNTAX_CASES) == set(SYNTAX_KINDS)


@pytest.mark.parametrize(("kind", "case"), SYNTAX_CASES.items(), ids=list(SYNTAX_CASES))
def test_yaml_syntax_error_is_reported_in_words_at_the_line_of_the_mistake(
    kind: str, case: tuple[str, int, str], parser: str, tmp_path: Path
) -> None:
    text, line, words = case
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(PolicyValidationError) as raised:
        load_policy([path])

    (problem,) = raised.value.problems
    assert str(problem) == f"{path}:{line}: YAML syntax error: {words}"


@pytest.mark.parametrize(("kind", "case"), SYNTAX_CASES.items(), ids=list(SYNTAX_CASES))
def test_yaml_syntax_error_kind_is_told_apart_whichever_parser_raised_it(
    kind: str, case: tuple[str, int, str], parser: str
) -> None:
    text = case[0]
    loader = yaml.CSafeLoader if parser == "libyaml" else yaml.SafeLoader

    with pytest.raises(yaml.MarkedYAMLError) as raised:
        loader(text).get_single_node()

    assert syntax_kind(raised.value, text) == kind


def test_syntax_error_the_table_does_not_know_keeps_yaml_own_words() -> None:
    mark = yaml.Mark("policy.yaml", 0, 2, 0, None, None)
    err = yaml.MarkedYAMLError(problem="found something new", problem_mark=mark)

    assert syntax_kind(err, HEAD) is None
    assert syntax_problem(err, HEAD, "yaml") == (3, "YAML syntax error: found something new")


@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_both_parsers_read_the_same_data_lines_and_problems(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not text: never parsed")
    syntax = POLICY_SUFFIXES[path.suffix]
    with_libyaml = read_source(text, syntax)
    monkeypatch.setattr(yaml, "__with_libyaml__", False)

    without = read_source(text, syntax)

    assert with_libyaml == without


def test_libyaml_is_used_when_pyyaml_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")

    class Refuse(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            raise AssertionError("the pure-Python loader was used")

    monkeypatch.setattr(yaml, "SafeLoader", Refuse)

    tree, issues = read_source(HEAD, "yaml")

    assert (tree.data["version"], issues) == (1, [])


def test_file_with_more_values_than_any_alias_limit_loads(tmp_path: Path) -> None:
    # One parser is enough: the values are counted by the walker both share.
    # Given one rule listing more accounts than aliases may ever expand to
    accounts = [f"{100_000_000_000 + n:012d}" for n in range(MAX_ALIAS_EXPANSIONS + 1)]
    listed = "".join(f"      - '{account}'\n" for account in accounts)
    path = tmp_path / "big.yaml"
    path.write_text(HEAD + RULE + "    when:\n      accounts:\n" + listed, encoding="utf-8")

    # When it loads
    policy = load_policy([path])

    # Then every account is there, none refused as an alias bomb
    (document,) = policy.documents
    assert document.model.rules[0].when.accounts == accounts


def test_aliases_that_share_a_list_between_rules_load(parser: str, tmp_path: Path) -> None:
    # Given a list of 1,000 accounts that 50 rules share through an alias (50,000 values)
    accounts = [f"{100_000_000_000 + n:012d}" for n in range(1_000)]
    listed = "".join(f"      - '{account}'\n" for account in accounts)
    first = RULE + "    when:\n      accounts: &prod\n" + listed
    others = "".join(
        f"  - name: r{n}\n    decision: accept\n    when: {{accounts: *prod}}\n"
        for n in range(1, 50)
    )
    path = tmp_path / "shared.yaml"
    path.write_text(HEAD + first + others, encoding="utf-8")

    # When it loads
    policy = load_policy([path])

    # Then every rule has the whole list
    rules = policy.documents[0].model.rules
    assert len(rules) == 50
    assert all(rule.when.accounts == accounts for rule in rules)


def test_alias_bomb_is_refused_at_a_line_by_both_parsers(parser: str) -> None:
    path = ROOT / "tests/fixtures/policies/invalid/alias-bomb.yaml"

    with pytest.raises(PolicyValidationError) as raised:
        load_policy([path])

    (problem,) = raised.value.problems
    assert problem.line == 5
    assert problem.message.startswith(
        f"YAML aliases expand to more than {MAX_ALIAS_EXPANSIONS} values (an alias bomb?)"
    )


def test_values_after_non_ascii_text_are_shown_as_written_by_both_parsers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # libyaml counts in bytes internally; the marks must still be character positions.
    text = "a: '😀é'\nb: ['€', 011122223333]\n"
    with_libyaml = read_source(text, "yaml")
    monkeypatch.setattr(yaml, "__with_libyaml__", False)

    without = read_source(text, "yaml")

    assert with_libyaml == without
    assert without[0].written == {("b", 1): "011122223333"}


@pytest.mark.parametrize("text", ["services: " + "[" * 5_000 + "]" * 5_000, "- " * 5_000 + "x"])
def test_nesting_deeper_than_the_c_composer_may_go_is_refused_without_a_crash(
    text: str,
) -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    # libyaml's composer recurses in C: 30,000 levels overflow its stack, 5,000 are composed
    # on a larger one; either way the walker refuses them.
    assert source_module._nesting_bound(text) > source_module.MAX_C_NESTING

    tree, (issue,) = read_source(text, "yaml")

    assert (tree.data, issue.line, issue.message) == (None, None, "nested too deeply to read")
