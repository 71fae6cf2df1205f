"""A fuzz of Ingest over the whole Lambda event: whatever arrives, nothing is accepted and the
only error is the domain's `UnparseableNotification` (never a raw RecursionError, ValueError,
TypeError or pydantic error), and every event put carries the re-read truth."""

from __future__ import annotations

import contextlib
import json
from typing import Any, cast

from handler_fakes import FakeBus, FakeEc2, pending
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from acceptor.contract import DetailType, RequestedDetail, StateChangedDetail
from acceptor.flows.ingest import IngestDeps, ingest_event
from acceptor.notification import UnparseableNotification

SERVICES = ["vpce-svc-0a1b2c3d4e5f67890", "vpce-svc-0b2c3d4e5f6a78901"]
KNOWN = {
    "vpce-00000001": pending("vpce-00000001", account="111122223333"),
    "vpce-00000002": pending("vpce-00000002", account="222233334444", state="available"),
    "vpce-00000003": pending(
        "vpce-00000003", account="444455556666", service_id=SERVICES[1], state="rejected"
    ),
}
IDS = [*KNOWN, "vpce-0000000f", "vpce-0123456789abcdef0", *SERVICES, "vpce-svc-0c3d4e5f"]
KEYS = [
    "endpointId",
    "VpcEndpointId",
    "endpointServiceId",
    "serviceId",
    "awsAccountId",
    "endpointState",
    "eventType",
    "detail",
    "Message",
]
WORDS = ["Connect", "Accept", "Reject", "Delete", "pendingAcceptance", "available", "deleted"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**4300, max_value=10**4400),  # beyond Python's int-from-str limit
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(IDS + WORDS + ["111122223333", "999988887777"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), inner, max_size=5),
    ),
    max_leaves=25,
)


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value)
    except ValueError:  # an integer beyond Python's limit cannot be written: write one by hand
        return '{"endpointId": "vpce-00000001", "n": ' + "9" * 4400 + "}"


@st.composite
def deep(draw: st.DrawFn) -> str:
    """JSON nested around the decoder's recursion limit, maybe around a known ID."""
    levels = draw(st.integers(min_value=20, max_value=1200))
    opener = draw(st.sampled_from(["[", '{"a":', '{"endpointId": "vpce-00000001", "x":']))
    closer = {"[": "]"}.get(opener, "}")
    return opener * levels + draw(st.sampled_from(["1", '"vpce-00000001"', "[]"])) + closer * levels


well_formed = st.builds(
    lambda endpoint, service, state, kind: json.dumps(
        {
            "endpointId": endpoint,
            "endpointServiceId": service,
            "endpointState": state,
            "eventType": kind,
        }
    ),
    st.sampled_from(IDS),
    st.sampled_from(IDS),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
)
messages = st.one_of(
    well_formed,
    well_formed,
    st.text(max_size=200),
    json_values.map(_dumps),
    deep(),
    st.builds(
        lambda digits: '{"endpointId": "vpce-00000001", "n": ' + "7" * digits + "}",
        st.integers(min_value=1, max_value=6000),
    ),
)


@st.composite
def sns_records(draw: st.DrawFn) -> Any:
    sns: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": draw(st.text(min_size=1, max_size=20)),
        "TopicArn": "arn:aws:sns:us-east-1:999988887777:connections",
        "Subject": draw(st.one_of(st.none(), st.sampled_from(WORDS), st.text(max_size=120))),
        "Message": draw(messages),
        "Timestamp": "2025-03-04T09:59:58.312Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "MessageAttributes": {},
    }
    if draw(st.integers(0, 3)) == 0:
        for key in draw(st.lists(st.sampled_from(list(sns)), min_size=1, max_size=2)):
            sns[key] = draw(json_values)  # a field of the wrong type, or null
    record: dict[str, Any] = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:999988887777:connections:sub",
        "Sns": sns,
    }
    if draw(st.booleans()) and draw(st.booleans()):
        record["Sns"] = draw(st.one_of(st.none(), json_values))  # "Sns": null and worse
    return record


lambda_events = st.one_of(
    st.builds(lambda records: {"Records": records}, st.lists(sns_records(), max_size=4)),
    st.builds(
        lambda records: {"Records": records},
        st.lists(st.one_of(sns_records(), json_values), max_size=4),
    ),
    json_values,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lambda_event=lambda_events, managed=st.sampled_from([frozenset(SERVICES), frozenset()]))
def test_ingest_never_accepts_and_raises_only_the_domain_error(
    lambda_event: Any, managed: frozenset[str]
) -> None:
    ec2, bus = FakeEc2(list(KNOWN.values())), FakeBus()
    deps = IngestDeps(ec2=cast(Any, ec2), bus=cast(Any, bus), managed=managed)

    with contextlib.suppress(UnparseableNotification):  # the only error allowed
        ingest_event(lambda_event, deps)
    # --hypothesis-show-statistics: how many cases reached the bus (one in eight or so)
    event("put an event" if bus.events else "put nothing")

    assert {call[0] for call in ec2.calls} <= {"find"}, "Ingest only reads"
    for put in bus.events:
        if put.detail_type == DetailType.REQUESTED:
            requested = cast(RequestedDetail, put.detail)
            truth = KNOWN[requested.endpoint_id]
            assert (requested.state, requested.account) == ("pendingAcceptance", truth.account)
        else:
            changed = cast(StateChangedDetail, put.detail)
            if changed.found:
                assert changed.state == KNOWN[changed.endpoint_id].state
            else:
                assert changed.endpoint_id not in KNOWN
                assert changed.state == "deleted"
