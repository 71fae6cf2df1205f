"""How often Decide decides the same pending connection (docs/notifications.md, "Once per
change"): a notification and a sweep share one claim."""

from __future__ import annotations

from typing import cast

from handler_fakes import pending
from test_decide_flow import PARTNER, Harness, body

from acceptor.contract import DecidedDetail


def test_connect_followed_by_a_sweep_decides_a_hold_once() -> None:
    # Given a connection the policy holds, requested by its Connect notification
    connection = pending("vpce-00000004", account=PARTNER)
    harness = Harness([connection])
    harness.run([("m1", body(connection, origin="notification", correlation="connect-1"))])

    # When the next sweep requests it again, and a duplicate Connect arrives
    outcome = harness.run(
        [
            ("m2", body(connection, origin="sweep", correlation="sweep-1")),
            ("m3", body(connection, origin="notification", correlation="connect-1")),
        ]
    )

    # Then it was decided (and published) once: the later requests are duplicates
    assert outcome.failures == {}
    assert set(outcome.duplicates) == {"m2", "m3"}
    published = [cast(DecidedDetail, e.detail) for e in harness.bus.events]
    assert [d.endpoint_id for d in published] == ["vpce-00000004"]
    assert [i["decision"] for i in harness.log.items if i.get("kind") == "decision"] == ["hold"]


def test_hold_expiry_request_is_decided_apart_from_the_sweep() -> None:
    connection = pending("vpce-00000004", account=PARTNER)
    harness = Harness([connection])
    harness.run([("m1", body(connection, origin="sweep"))])

    outcome = harness.run([("m2", body(connection, origin="hold-expired", correlation="exp-1"))])

    assert outcome.duplicates == []
