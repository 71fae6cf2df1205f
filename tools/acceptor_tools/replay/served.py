"""The application of `acceptor local-aws serve --app` (docs/local-aws.md, "With the
application"): the replay's deployment in the served local AWS, kept running.

A pump thread runs the replay engine's loop every `PUMP_SECONDS` (Lambda's SQS poller and
asynchronous invocations: Ingest, Decide, SecurityGroups, Notify, Reconcile), and the stack's
function URLs answer HTTP requests that arrive on the server's threads. Every call of a function
holds one lock: an execution environment swaps the process's environment variables, folder,
modules and output for the length of a call (`replay/runtime.py`), so two calls never overlap.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from acceptor_tools.local_aws.function_url import PREFIX, FunctionUrl, Handler
from acceptor_tools.replay.engine import Progress, ReplayLog
from acceptor_tools.replay.report import PathDisplay, write_outbox
from acceptor_tools.replay.session import Limits, ReplaySession

PUMP_SECONDS = 1.0
# One tick of the pump: until the application is quiet, or this bound (then the next tick).
TICK_LIMITS = Limits(max_rounds=200, max_seconds=10.0)
STOP_SECONDS = 30.0
DECIDED = "Endpoint Connection Decided"
# What Lambda answers when the function behind a URL fails.
FUNCTION_FAILED = {
    "statusCode": 502,
    "headers": {"content-type": "application/json"},
    "body": json.dumps({"Message": "Internal Server Error"}),
}


class ServedApp:
    def __init__(
        self,
        session: ReplaySession,
        *,
        outbox: Path,
        policy: Path,
        say: Progress,
        approve_command: str = "acceptor approve {endpoint_id} --reason TEXT",
    ) -> None:
        """`approve_command`: what to run to decide a held request, said when one is held
        (`{endpoint_id}` is replaced)."""
        self.session = session
        self._approve_command = approve_command
        self._held_said: set[str] = set()
        self._outbox = outbox
        self._paths = PathDisplay.for_policy(policy)
        self._say = say
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dead_letters_seen = 0
        self._messages_written = 0
        self.error: BaseException | None = None
        """Why the pump stopped by itself (the local AWS refused the engine's calls...)."""

    # function URLs

    def function_urls(self) -> dict[str, FunctionUrl]:
        """The stack's function URLs by function logical ID, each invoking its function."""
        app = self.session.app
        return {
            logical_id: FunctionUrl(
                self._handler(logical_id),
                "AWS_IAM" if auth_type == "AWS_IAM" else "NONE",
                account=app.account,
                region=app.region,
            )
            for logical_id, auth_type in sorted(app.function_urls.items())
        }

    def document(self, endpoint_url: str) -> dict[str, Any]:
        """What `GET /_function-urls/` answers: the URLs, and the stack's outputs that give
        them (`ApprovalUrl`, which `acceptor approve --local-port` reads)."""
        app = self.session.app
        urls = {
            logical_id: {"url": url_of(endpoint_url, logical_id), "auth_type": auth_type}
            for logical_id, auth_type in sorted(app.function_urls.items())
        }
        return {
            "stack": app.stack,
            "account": app.account,
            "region": app.region,
            "function_urls": urls,
            "outputs": {
                name: url_of(endpoint_url, logical_id)
                for name, logical_id in sorted(app.url_outputs.items())
            },
        }

    def _handler(self, logical_id: str) -> Handler:
        def handle(event: dict[str, Any], _context: Any) -> Any:
            with self._lock:
                invocation = self.session.replay.invoke_url(logical_id, event)
            return invocation.response if invocation.ok else FUNCTION_FAILED

        return handle

    # the pump

    def start(self) -> None:
        self._thread = threading.Thread(target=self._pump, name="application", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let the call or tick under way finish, then stop; nothing is left half-done."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(STOP_SECONDS)
            if thread.is_alive():
                raise RuntimeError("the application did not stop in time")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> ReplayLog:
        """Deliver and invoke until the application is quiet (or `TICK_LIMITS`)."""
        with self._lock:
            log = self.session.replay.log
            log.quiet = False
            self.session.run(TICK_LIMITS)
            self._tell(log)
            return log

    def _pump(self) -> None:
        while not self._stop.wait(PUMP_SECONDS):
            try:
                self.tick()
            # Not swallowed: the serve loop sees `error`, says it and stops (exit 1).
            except Exception as err:  # noqa: BLE001
                self.error = err
                return

    def _tell(self, log: ReplayLog) -> None:
        """Messages to people are written to the outbox folder as they come, dead letters are
        said once; the calls' records are dropped (each was said as it happened)."""
        if len(log.outbox) > self._messages_written:
            files = write_outbox(log.outbox, self.session.app, self._outbox, self._paths)
            self._say(f"{len(files)} message(s) to people so far, in {self._outbox}/")
            self._messages_written = len(log.outbox)
        for dead in log.dead_letters[self._dead_letters_seen :]:
            self._say(f"dead letter in {dead.queue}: {dead.function or '?'} {dead.error or ''}")
        self._dead_letters_seen = len(log.dead_letters)
        for event in log.bus_events.values():
            self._tell_hold(event.detail_type, event.event.get("detail") or {})
        log.invocations.clear()
        if log.quiet:  # every event of the bus was delivered: their records are done with
            log.bus_events.clear()

    def _tell_hold(self, detail_type: str, detail: dict[str, Any]) -> None:
        """A request the policy held, once per endpoint, with the command that decides it (the
        Decided event is the published contract, docs/events.md)."""
        endpoint_id = str(detail.get("endpoint_id") or "")
        if detail_type != DECIDED or not endpoint_id:
            return
        if detail.get("decision") != "hold":
            self._held_said.discard(endpoint_id)  # held again later: said again
            return
        if endpoint_id in self._held_said:
            return
        self._held_said.add(endpoint_id)
        self._say(
            f"held: {endpoint_id} of account {detail.get('account')}; a person decides: "
            + self._approve_command.format(endpoint_id=endpoint_id)
        )


def url_of(endpoint_url: str, logical_id: str) -> str:
    return f"{endpoint_url}{PREFIX}{logical_id}/"
