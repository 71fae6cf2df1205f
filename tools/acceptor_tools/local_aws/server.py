"""moto's server on a thread of this process, so that it shares the extension and the state.

Unlike moto's `ThreadedMotoServer`, binding happens in the caller's thread: a port in use is an
`OSError` at `start()`, not a thread that never becomes ready (nor werkzeug's `sys.exit`).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from acceptor_tools.local_aws import moto_internals as moto

STOP_TIMEOUT_SECONDS = 10.0
LISTEN_BACKLOG = 128
# A WSGI application put in front of moto's, given moto's (e.g. the function URL router).
Front = Callable[[Any], Any]


def _quiet(handler: type[Any]) -> type[Any]:
    """moto's request handler without werkzeug's line per request on stderr."""

    def log_request(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    return type("QuietMotoRequestHandler", (handler,), {"log_request": log_request})


class MotoServerThread:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, front: Front | None = None) -> None:
        self.host = host
        self.port = port
        self.front = front
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Bind (port 0: any free port), serve on a daemon thread, return the endpoint URL."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        # Bound here, not by werkzeug, which answers a port in use with sys.exit(1).
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(LISTEN_BACKLOG)
            application = moto.wsgi_application()
            self._server = make_server(
                self.host,
                self.port,
                self.front(application) if self.front else application,
                threaded=True,
                request_handler=_quiet(moto.wsgi_request_handler()),
                fd=listener.fileno(),  # werkzeug serves on a duplicate of this socket
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-aws-server", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(STOP_TIMEOUT_SECONDS)
            if thread.is_alive():
                raise RuntimeError("the local AWS server did not stop in time")
