"""Shared pieces of the NotifyFunction integration tests: the HTTP capture server, the world
the function reads at run time (secrets, topic, table, policy), and a Lambda context.

Each webhook path carries a token that stands for the secret part of a real webhook URL: the
tests assert that no log ever contains one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import yaml

REGION = "us-east-1"
PROVIDER = "999988887777"
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
OTHER_SERVICE = "vpce-svc-0b2c3d4e5f6a78901"
UNMANAGED_SERVICE = "vpce-svc-0c3d4e5f6a7b89012"
"""An endpoint service of the provider without the acceptor's tag."""
DECIDE_ROLE = f"arn:aws:iam::{PROVIDER}:role/privatelink-acceptor-DecideFunctionRole-4B31D0496DC6"
EVENTS = Path(__file__).resolve().parents[3] / "events"

# Paths on the capture server; each carries a token that must never reach a log.
SLACK_PATH = "/services/T0SLACK/B0OPS/slack-token-6b1f0d"
TEAMS_PATH = "/workflows/teams-token-2c9e4a/triggers/manual/paths/invoke"
AUDIT_PATH = "/audit/hook-token-93d7e1"
SECRET_TOKENS = ("slack-token-6b1f0d", "teams-token-2c9e4a", "hook-token-93d7e1")


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class CaptureServer:
    base_url: str
    requests: list[Captured] = field(default_factory=list)
    # path -> (status, body, delay in seconds) to answer instead of 200
    answers: dict[str, tuple[int, str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [r.body for r in self.requests if r.path == path]


@contextmanager
def serving_capture() -> Iterator[CaptureServer]:
    """A capture server on a free port of 127.0.0.1, stopped (bounded) on the way out."""
    server = CaptureServer(base_url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(server))
    httpd.daemon_threads = True
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def handler_for(server: CaptureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            with server.lock:
                server.requests.append(
                    Captured(self.path, dict(self.headers.items()), json.loads(raw or b"null"))
                )
                status, text, delay = server.answers.get(self.path, (200, "ok", 0.0))
            if delay:
                time.sleep(delay)
            payload = text.encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", server.url("/elsewhere"))
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on what was captured, not on the server's log."""

    return Handler


@dataclass
class NotifyWorld:
    capture: CaptureServer
    topic_arn: str
    queue_url: str
    table: str
    policy_dir: Path

    def sns_messages(self, expected: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Messages the topic delivered to the subscribed queue (bounded wait)."""
        sqs = boto3.client("sqs", region_name=REGION)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            response = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            for message in response.get("Messages", []):
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(found) < expected:
                time.sleep(0.05)
        return found


def write_policy(folder: Path) -> None:
    """Two files: orders (one service) and audit (every service), with all four channel types."""
    folder.mkdir(parents=True, exist_ok=True)
    orders = {
        "version": 1,
        "services": [SERVICE],
        "default": "hold",
        "notify": ["ops"],
        "rules": [
            {
                "name": "payments-prod",
                "decision": "accept",
                "when": {"accounts": ["111122223333"]},
                "notify": ["payments-team"],
            },
            {"name": "no-sandboxes", "decision": "reject", "when": {"tags": {"env": "sandbox"}}},
        ],
        "notifications": {
            "ops": {"type": "slack", "webhook_secret": "privatelink-acceptor/slack-ops"},
            "payments-team": {
                "type": "teams",
                "webhook_parameter": "/privatelink-acceptor/teams-payments",
            },
        },
    }
    audit = {
        "version": 1,
        "services": ["*"],
        "notify": ["audit", "people"],
        "notifications": {
            "audit": {"type": "webhook", "webhook_secret": "privatelink-acceptor/audit-hook"},
            "people": {"type": "sns"},
        },
    }
    (folder / "orders.yaml").write_text(yaml.safe_dump(orders, sort_keys=False))
    (folder / "audit.yaml").write_text(yaml.safe_dump(audit, sort_keys=False))


def event_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def slack_fields(body: dict[str, Any]) -> dict[str, str]:
    """The label → value fields of a Block Kit message as the renderer writes them."""
    texts = [f["text"] for block in body["blocks"] if "fields" in block for f in block["fields"]]
    return {label.strip("*"): value for label, value in (t.split("\n", 1) for t in texts)}
