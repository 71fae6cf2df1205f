"""docs/policy.md quotes the check's errors word for word: keep the quotes true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.loader import load_policy

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[3]
QUOTED = re.compile(r"^(tests/fixtures/policies/invalid/[^:]+?)(?::\d+)?: .*$", re.MULTILINE)


def quoted_errors() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    return [(match.group(1), match.group(0)) for match in QUOTED.finditer(text)]


def test_docs_quote_errors_at_all() -> None:
    assert len(quoted_errors()) >= 15


@pytest.mark.parametrize(("path", "line"), quoted_errors(), ids=lambda v: v[:60])
def test_error_quoted_in_the_docs_is_what_the_check_prints(
    path: str, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    folder = path.rsplit("/", 1)[0]
    # A problem of a folder case is reported in one of its files: load the folder.
    target = folder if folder != "tests/fixtures/policies/invalid" else path

    with pytest.raises(PolicyValidationError) as raised:
        load_policy([target])

    assert line in [str(problem) for problem in raised.value.problems]
