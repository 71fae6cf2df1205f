"""The CIDR keys of `security_groups` (docs/policy.md): their defaults, and each mistake
reported at its line with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy
from acceptor.policy.model import SecurityGroups

RULE = (
    "version: 1\nservices: ['*']\nrules:\n  - name: r\n    decision: accept\n"
    "    when: {{regions: [us-east-1]}}\n    security_groups:\n"
    "      provider: {{group: sg-0123456789abcdef0, ports: [443]}}\n      {key}\n"
)


def test_by_default_five_private_cidrs_at_most() -> None:
    spec = SecurityGroups()

    assert (spec.max_cidrs, spec.allow_public_cidrs) == (5, False)


def test_the_keys_are_read_from_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(RULE.format(key="max_cidrs: 2\n      allow_public_cidrs: true"))

    (document,) = load_policy([path]).documents
    spec = document.model.rules[0].security_groups

    assert spec is not None
    assert (spec.max_cidrs, spec.allow_public_cidrs) == (2, True)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("max_cidrs: 0", "security_groups.max_cidrs: 0 is too small; the least allowed is 1"),
        ("max_cidrs: 51", "security_groups.max_cidrs: 51 is too large; the most allowed is 50"),
        ("max_cidrs: '5'", "max_cidrs: should be a whole number (not quoted); found the text '5'"),
        (
            "allow_public_cidrs: 'yes'",
            "allow_public_cidrs: should be true or false; found the text 'yes'",
        ),
    ],
)
def test_a_bad_value_is_reported_at_its_line(tmp_path: Path, key: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(RULE.format(key=key))

    with pytest.raises(PolicyValidationError) as raised:
        load_policy([path])

    (problem,) = raised.value.problems
    assert problem.line == 9
    assert message in problem.message
