"""The extension's own settings, shared like moto's backends by everything in the process.

moto keeps one set of backends per process (the in-process mock and a server thread both use
it), so the knobs that shape its behaviour are per process too: the fault injector, the
notification message shape, how long an accepted connection stays `pending`, and the
DescribeVpcEndpointConnections filters it refuses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from acceptor_tools.local_aws.connections import AVAILABLE, PENDING, Connection
from acceptor_tools.local_aws.faults import FaultInjector
from acceptor_tools.local_aws.notifications import NotificationSettings


@dataclass(frozen=True)
class DeliveryFailure:
    """One SNS delivery to one subscription that its endpoint refused (the API call that
    published still succeeded, as in AWS)."""

    topic_arn: str
    protocol: str
    endpoint: str
    error: str


@dataclass
class ExtensionState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    faults: FaultInjector = field(default_factory=FaultInjector)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    # 0: an accepted connection is `available` at once; > 0: it is `pending` for that long,
    # as in AWS, where acceptance takes a moment to settle.
    settle_seconds: float = 0.0
    # Filters of DescribeVpcEndpointConnections answered with `InvalidFilter` (real AWS may
    # refuse `vpc-endpoint-id`); empty: every filter works.
    refused_filters: frozenset[str] = frozenset()
    delivery_failures: list[DeliveryFailure] = field(default_factory=list)
    _timers: list[threading.Timer] = field(default_factory=list)

    def settle(self, connection: Connection) -> None:
        if self.settle_seconds <= 0:
            connection.state = AVAILABLE
            return
        timer = threading.Timer(self.settle_seconds, self._finish, args=(connection,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _finish(self, connection: Connection) -> None:
        with self.lock:
            if connection.state == PENDING:
                connection.state = AVAILABLE

    def reset(self) -> None:
        with self.lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self.faults.clear()
            self.notifications.reset()
            self.delivery_failures.clear()
            self.settle_seconds = 0.0
            self.refused_filters = frozenset()


_STATE = ExtensionState()


def extension_state() -> ExtensionState:
    return _STATE
