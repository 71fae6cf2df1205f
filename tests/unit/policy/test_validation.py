"""Every way a policy can be invalid gives `path:line: message`, with the fix, and nothing loads.

One fixture file per case in tests/fixtures/policies/invalid/ (the cases of docs/policy.md,
"Common mistakes and the errors they give", and a few more); cases across files live in its
subfolders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acceptor.policy.errors import PolicyValidationError, Problem
from acceptor.policy.loader import POLICY_SUFFIXES, load_policy

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
INVALID = "tests/fixtures/policies/invalid"

# fixture file -> (line, the part of the message that matters)
CASES: dict[str, tuple[int, str]] = {
    "unknown-key.yaml": (
        7,
        "rule 'payments-prod': when: unknown key 'region'; did you mean 'regions'?",
    ),
    "missing-version.yaml": (1, "missing required key 'version'; start the file with version: 1"),
    "unsupported-version.yaml": (1, "version: 2 is not a supported version; write version: 1"),
    "bad-account-id.yaml": (
        7,
        "rule 'short-account': when.accounts[0]: '11112222333' is not a 12-digit AWS account ID",
    ),
    "bad-vpc-id.yaml": (7, "when.vpcs[0]: 'vpc-12345' is not a VPC ID"),
    "bad-endpoint-id.yaml": (
        9,
        "when.endpoints[1]: 'vpce-svc-0a1b2c3d4e5f60718' is not a VPC endpoint ID",
    ),
    "bad-service-id.yaml": (
        4,
        "services[1]: 'vpce-0123456789abcdef0' is not an endpoint service ID",
    ),
    "bad-security-group-id.yaml": (
        8,
        "security_groups.provider.group: 'sg-xyz' is not a security group ID",
    ),
    "bad-ou-id.yaml": (
        7,
        "when.organizational_units[0]: 'ou-ab12' is not an organizational unit ID",
    ),
    "numeric-account-octal.yaml": (
        9,
        "rule 'payments-prod': when.accounts[1]: 011122223333 was read by YAML as the number "
        '1229530843 (octal); quote it: "011122223333"',
    ),
    "numeric-account-decimal.yaml": (
        7,
        "when.accounts[0]: 111122223333 was read by YAML as the number 111122223333; "
        'quote it: "111122223333"',
    ),
    "numeric-account.json": (
        8,
        "when.accounts[0]: 111122223333 is the JSON number 111122223333; "
        'write it as a string: "111122223333"',
    ),
    "tag-value-boolean.yaml": (
        9,
        'when.tags.enabled: true was read by YAML as the boolean true; quote it: "true"',
    ),
    "rule-without-condition.yaml": (
        6,
        "rule 'everyone': when: a rule needs at least one condition",
    ),
    "security-groups-on-reject.yaml": (
        4,
        "rule 'no-sandboxes': security_groups is only allowed on accept rules (this rule "
        "decides reject)",
    ),
    "port-out-of-range.yaml": (
        9,
        "security_groups.consumer_endpoint.ports[1]: 70000 is too large; ports run from 1 to 65535",
    ),
    "unknown-channel.yaml": (
        7,
        "rule 'payments-prod': notify[1]: channel 'secuirty' is not defined under notifications "
        "in any policy file; did you mean 'security'?",
    ),
    "bad-duration.yaml": (
        4,
        "hold.expires_after: '72 hours' is not a duration; write it like 72h, 3d, 1d12h or 90m",
    ),
    "empty-condition-list.yaml": (7, "when.accounts: must not be empty"),
    "null-condition.yaml": (
        7,
        "rule 'prod-endpoints': when.accounts: has no value; give a value or remove the key",
    ),
    "duplicate-key.yaml": (
        9,
        "rule 'payments-prod': when: duplicate key 'accounts' (first at line 7); YAML readers "
        "silently keep only the last one",
    ),
    "yaml-syntax-error.yaml": (
        6,
        "YAML syntax error: this line is not indented like the lines above it (check its "
        'leading spaces, or a missing "-" or ":")',
    ),
    "alias-bomb.yaml": (
        5,
        "YAML aliases expand to more than 100000 values (an alias bomb?); write the values out",
    ),
    "yaml-unclosed-list.yaml": (
        7,
        'YAML syntax error: this list is not closed (a "]" is missing?)',
    ),
    "json-syntax-error.json": (4, "JSON syntax error: Expecting property name"),
    "empty.yaml": (1, "the file is empty"),
    "not-utf8.yaml": (3, "is not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    "top-level-list.yaml": (1, "the top level must be a mapping"),
    "unknown-channel-type.yaml": (4, "notifications.ops: type 'pagerduty' is not supported"),
    "missing-decision.yaml": (4, "rule 'payments-prod': missing required key 'decision'"),
    "negative-limit.yaml": (4, "limits.per_account: -1 is too small; the least allowed is 1"),
    "unknown-over-limit.yaml": (
        5,
        "limits.over_limit: the text 'drop' is not allowed here; use 'hold' or 'reject'",
    ),
    "malformed-approver.yaml": (
        6,
        "approval.approvers[1]: 'arn:aws:iam::99998888777:role/NetworkAdmins' is not an IAM "
        "principal ARN",
    ),
}


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def problems_of(*paths: str | Path) -> tuple[Problem, ...]:
    with pytest.raises(PolicyValidationError) as raised:
        load_policy(list(paths))
    return raised.value.problems


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("fixture", "expected"), CASES.items(), ids=list(CASES))
def test_invalid_fixture_is_reported_at_its_line_with_the_fix(
    fixture: str, expected: tuple[int, str]
) -> None:
    line, message = expected
    path = f"{INVALID}/{fixture}"

    (problem,) = problems_of(path)

    assert (problem.path, problem.line) == (path, line)
    assert message in problem.message
    assert str(problem) == f"{path}:{line}: {problem.message}"


def test_every_invalid_fixture_file_has_a_case() -> None:
    files = {p.name for p in (ROOT / INVALID).iterdir() if p.suffix in POLICY_SUFFIXES}

    assert files == set(CASES)


def test_messages_carry_no_pydantic_prefixes_or_urls() -> None:
    problems = problems_of(INVALID)

    for problem in problems:
        assert "Value error" not in problem.message
        assert "errors.pydantic.dev" not in problem.message
        assert "Input should be" not in problem.message


def test_all_problems_of_all_files_are_reported_in_one_run() -> None:
    problems = problems_of(INVALID)

    # Every fixture is reported, at the case's line (other files add cross-file problems, such
    # as rule names that several fixtures share).
    reported = {(p.path.rsplit("/", 1)[1], p.line) for p in problems}
    assert {(name, line) for name, (line, _) in CASES.items()} <= reported


def test_several_broken_files_given_together_are_all_reported() -> None:
    files = [
        f"{INVALID}/{name}" for name in ("missing-version.yaml", "bad-vpc-id.yaml", "empty.yaml")
    ]

    problems = problems_of(*files)

    assert [p.path for p in problems] == sorted(files)


def test_duplicate_rule_names_across_files_name_both_places() -> None:
    folder = f"{INVALID}/duplicate-rule-names"

    (problem,) = problems_of(folder)

    assert (problem.path, problem.line) == (f"{folder}/platform.yaml", 7)
    assert problem.message.startswith(
        f"rule 'payments-prod': this name is also used at {folder}/payments.yaml:4"
    )


def test_channel_defined_in_two_files_names_both_places() -> None:
    folder = f"{INVALID}/channel-defined-twice"

    (problem,) = problems_of(folder)

    assert (problem.path, problem.line) == (f"{folder}/platform.yaml", 5)
    assert problem.message.startswith(
        f"notifications.ops: channel 'ops' is also defined at {folder}/payments.yaml:5"
    )


def test_folder_without_policy_files_is_a_problem_without_a_line() -> None:
    folder = f"{INVALID}/no-policy-files"

    (problem,) = problems_of(folder)

    assert (problem.path, problem.line) == (folder, None)
    assert "no policy files here" in problem.message
    assert str(problem) == f"{folder}: {problem.message}"


def test_file_level_notify_of_an_undefined_channel_lists_the_defined_ones(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "version: 1\nservices: ['*']\nnotify: [pager]\nnotifications:\n  ops: {type: sns}\n",
    )

    (problem,) = problems_of(tmp_path)

    assert problem.line == 3
    assert problem.message == (
        "notify[0]: channel 'pager' is not defined under notifications in any policy file; "
        "defined channels: ops"
    )


def test_a_file_with_shape_problems_still_defines_its_channels_for_other_files(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "a.yaml",
        "version: 1\nservices: [bad]\nnotifications:\n  ops: {type: sns}\n",
    )
    write(tmp_path, "b.yaml", "version: 1\nservices: ['*']\nnotify: [ops]\n")

    (problem,) = problems_of(tmp_path)

    assert (problem.path, problem.line) == (str(tmp_path / "a.yaml"), 2)


# Smaller cases, written inline: (file text, line, the part of the message that matters).
INLINE_CASES: dict[str, tuple[str, int | None, str]] = {
    "quoted version": (
        "version: '1'\nservices: ['*']\n",
        1,
        "version: '1' is not a supported version; write version: 1 (a number, not quoted)",
    ),
    "boolean version": ("version: true\nservices: ['*']\n", 1, "version: True is not a supported"),
    "services not a list": (
        "version: 1\nservices: '*'\n",
        2,
        "services: should be a list like [a, b]; found the text '*'",
    ),
    "revoke as text": (
        "version: 1\nservices: ['*']\nrevoke: 'yes'\n",
        3,
        "revoke: should be true or false; found the text 'yes'",
    ),
    "tag key read as boolean": (
        "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: hold\n"
        "    when: {tags: {on: 'yes'}}\n",
        6,
        "rule 'r': when.tags: key on was read by YAML as the boolean true; quote it: \"on\"",
    ),
    "tag value read as number": (
        "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: hold\n"
        "    when:\n      tags:\n        team: [payments, 42]\n",
        8,
        'when.tags.team[1]: 42 was read by YAML as the number 42; quote it: "42"',
    ),
    "account with a trailing newline": (
        "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: accept\n"
        "    when:\n      accounts:\n        - |\n          111122223333\n",
        8,
        "when.accounts[0]: '111122223333\\n' is not a 12-digit AWS account ID",
    ),
    "port zero": (
        "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: accept\n"
        "    when: {regions: [us-east-1]}\n    security_groups:\n"
        "      provider: {group: sg-0123456789abcdef0, ports: [0]}\n",
        8,
        "security_groups.provider.ports[0]: 0 is too small; ports run from 1 to 65535",
    ),
    "port as text": (
        "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: accept\n"
        "    when: {regions: [us-east-1]}\n    security_groups:\n"
        "      consumer_endpoint: {ports: ['443']}\n",
        8,
        "ports[0]: should be a whole number (not quoted); found the text '443'",
    ),
    "zero duration": (
        "version: 1\nservices: ['*']\nhold: {expires_after: 0h}\n",
        3,
        "hold.expires_after: '0h' is not a positive duration",
    ),
    "duration in base 60": (
        "version: 1\nservices: ['*']\nhold: {expires_after: 1:30}\n",
        3,
        "is not a duration; write it like 72h, 3d, 1d12h or 90m (YAML read 1:30 as the number "
        "90 (base 60))",
    ),
    "webhook with two sources": (
        "version: 1\nservices: ['*']\nnotifications:\n"
        "  ops: {type: slack, webhook_secret: a, webhook_parameter: b}\n",
        4,
        "notifications.ops: give exactly one of webhook_secret or webhook_parameter",
    ),
    "channel without a type": (
        "version: 1\nservices: ['*']\nnotifications:\n  ops: {webhook_secret: a}\n",
        4,
        "notifications.ops: give the channel a type: slack, teams, webhook, sns",
    ),
    "unknown key in a channel": (
        "version: 1\nservices: ['*']\nnotifications:\n"
        "  ops:\n    type: slack\n    webhook_secret: a\n    url: https://example.com\n",
        7,
        "notifications.ops: unknown key 'url' (allowed here: webhook_secret, webhook_parameter, "
        "type, signing_secret)",
    ),
    "unknown top-level key": (
        "version: 1\nservices: ['*']\nrule: []\n",
        3,
        "unknown key 'rule'; did you mean 'rules'?",
    ),
    "rule that is not a mapping": (
        "version: 1\nservices: ['*']\nrules:\n  - payments\n",
        4,
        "rules[0]: should be a mapping of keys to values; found the text 'payments'",
    ),
    "merge key": (
        "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: hold\n"
        "    when: {<<: {regions: [us-east-1]}}\n",
        6,
        "rule 'r': when: YAML merge keys (<<) are not supported; write the keys out",
    ),
    "custom tag": (
        "version: 1\nservices: !Ref Services\n",
        2,
        "services: unsupported YAML tag '!Ref'; remove it",
    ),
    "alias to itself": (
        "version: 1\nservices: &s ['*', *s]\n",
        2,
        "services[1]: a YAML alias refers to itself",
    ),
    "two documents": (
        "version: 1\nservices: ['*']\n---\nversion: 1\n",
        3,
        'YAML syntax error: a policy file holds one YAML document: remove this "---"',
    ),
    "top level a plain text": ("hello\n", 1, "the top level must be a mapping"),
    "only comments": ("# nothing yet\n", 1, "the file is empty"),
    "top level null": (
        "# a comment\n~\n",
        2,
        "the top level must be a mapping (version: 1, services: [...], rules: [...]); found "
        "null (no value)",
    ),
    "nested too deeply": (
        "version: 1\nservices: " + "[" * 2000 + "]" * 2000 + "\n",
        None,
        "nested",
    ),
    "top level with a custom tag": ("!Policy {version: 1}\n", 1, "unsupported YAML tag"),
}


@pytest.mark.parametrize(("case"), INLINE_CASES.values(), ids=list(INLINE_CASES))
def test_inline_case_is_reported_at_its_line(
    tmp_path: Path, case: tuple[str, int | None, str]
) -> None:
    text, line, message = case
    path = write(tmp_path, "policy.yaml", text)

    (problem,) = problems_of(path)

    assert problem.line == line
    assert message in problem.message


def test_aliases_that_expand_without_bound_are_refused_quickly(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, below in zip("bcdef", "abcde", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{below}'] * 10)}]")
    path = write(tmp_path, "laughs.yaml", "\n".join(levels) + "\n")

    problems = problems_of(path)

    assert any("more than 100000 values" in p.message for p in problems)


def test_duplicate_key_in_json_is_reported_as_json(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.json", '{"version": 1,\n "services": ["*"],\n "version": 1}\n')

    (problem,) = problems_of(path)

    assert problem.line == 3
    assert problem.message.startswith(
        "duplicate key 'version' (first at line 1); JSON readers silently keep only the last one"
    )
