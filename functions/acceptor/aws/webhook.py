"""POST a JSON document to a webhook (Slack, Teams Workflows, a generic receiver).

No retries here: a failed post raises `WebhookFailed`, the invocation fails, and Lambda's
asynchronous retries and then the dead-letter queue take over (botocore-style retry loops on
top would only delay that). Redirects are refused: urllib would turn a redirected POST into a
GET without the body, and a 2xx from that page would look like a delivery.

The URL is a secret (the path of a Slack or Teams webhook is its credential): it appears in no
error, and urllib's own exceptions, which can carry it, are summarised instead of chained.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPMessage
from typing import IO, Any
from urllib.parse import urlsplit

from acceptor.notify.errors import WebhookFailed

# Plain http only where the traffic never leaves the machine (a local receiver, the tests).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SNIPPET_BYTES = 300
SECRET_PART_MIN = 8
REDACTED = "<redacted>"
USER_AGENT = "privatelink-acceptor"


def is_allowed_url(url: str) -> bool:
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> None:
        return None


class WebhookPoster:
    """Posts JSON with a timeout; anything but a 2xx answer raises `WebhookFailed`."""

    def __init__(
        self, *, timeout_seconds: float, opener: urllib.request.OpenerDirector | None = None
    ) -> None:
        self._timeout = timeout_seconds
        self._opener = opener or urllib.request.build_opener(_RefuseRedirects())

    def __call__(self, url: str, body: Mapping[str, Any]) -> None:
        if not is_allowed_url(url):
            raise WebhookFailed("the webhook URL is not an https URL")
        request = urllib.request.Request(
            url,
            data=json.dumps(body, separators=(",", ":")).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = int(response.status)
                response.read(SNIPPET_BYTES)
        except urllib.error.HTTPError as err:
            # Not chained: the HTTPError object holds the URL.
            raise WebhookFailed(
                f"the webhook answered HTTP {err.code}{_snippet(err, url)}", status=err.code
            ) from None
        except urllib.error.URLError as err:
            raise WebhookFailed(
                f"the webhook could not be reached: {_reason(err.reason, url)}"
            ) from None
        except TimeoutError:
            raise WebhookFailed(
                f"the webhook did not answer within {self._timeout:g} seconds"
            ) from None
        except OSError as err:
            raise WebhookFailed(f"the webhook could not be reached: {_reason(err, url)}") from None
        if not 200 <= status < 300:
            raise WebhookFailed(f"the webhook answered HTTP {status}", status=status)


def _snippet(err: urllib.error.HTTPError, url: str) -> str:
    """The start of the error body (Slack says why: `invalid_payload`, `no_service`...)."""
    try:
        raw = err.read(SNIPPET_BYTES)
    except OSError:
        return ""
    text = _scrub(" ".join(raw.decode("utf-8", "replace").split()), url)
    return f": {text}" if text else ""


def _reason(reason: object, url: str) -> str:
    return _scrub(str(reason), url)


def _scrub(text: str, url: str) -> str:
    """Remove the URL and its secret parts from text that a receiver or urllib wrote.

    The secret of a webhook is its path (Slack) or a query value (Teams' `sig`), and a server
    may echo either alone; long path segments and query values go too.
    """
    parts = urlsplit(url)
    secrets = [url, parts.path, parts.query, parts.path + "?" + parts.query]
    secrets += [segment for segment in parts.path.split("/") if len(segment) >= SECRET_PART_MIN]
    secrets += [
        value
        for pair in parts.query.split("&")
        for value in pair.split("=", 1)[1:]
        if len(value) >= SECRET_PART_MIN
    ]
    for secret in sorted({s for s in secrets if s and s not in {"/", "?"}}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
