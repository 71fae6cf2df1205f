"""Webhook URLs as stored in secrets: the accepted forms, and errors that never show the URL."""

from __future__ import annotations

import pytest

from acceptor.aws.secrets import url_from_value
from acceptor.aws.webhook import is_allowed_url
from acceptor.notify.errors import SecretUnavailable

HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


def test_plain_url_value_is_the_url() -> None:
    assert url_from_value(f"  {HOOK}\n", where="secret 's'") == HOOK


def test_json_value_with_url_key_is_read() -> None:
    assert url_from_value(f'{{"url": "{HOOK}", "channel": "#ops"}}', where="secret 's'") == HOOK


@pytest.mark.parametrize(
    "value",
    [
        '{"url": ',  # broken JSON
        '{"href": "https://x.test/"}',  # no url key
        '{"url": 42}',
        "http://hooks.slack.com/services/T000/B000/XXXX",  # plain http to a remote host
        "ftp://example.test/hook",
        "hooks.slack.com/services/T000",
        "",
    ],
)
def test_value_that_is_not_an_https_url_is_refused_without_showing_it(value: str) -> None:
    with pytest.raises(SecretUnavailable) as raised:
        url_from_value(value, where="secret 'privatelink-acceptor/slack-ops'")

    assert "privatelink-acceptor/slack-ops" in str(raised.value)
    if value:
        assert value not in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (HOOK, True),
        ("https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual", True),
        ("http://127.0.0.1:8080/hook", True),
        ("http://localhost:8080/hook", True),
        ("http://[::1]:8080/hook", True),
        ("http://10.0.0.5/hook", False),
        ("https:///no-host", False),
        ("https://exa mple.test/", False),
        ("https://example.test/\r\nInjected: header", False),
        ("https://[::1/broken", False),
    ],
)
def test_only_https_or_loopback_http_urls_are_allowed(url: str, allowed: bool) -> None:
    assert is_allowed_url(url) is allowed
