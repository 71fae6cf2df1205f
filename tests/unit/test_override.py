"""Manual-override detection from CloudTrail events (acceptor.override), on the event files that
the manual-override rule delivers and on variants of them."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

from acceptor.override import Ignored, OverrideAlert, assess, role_key

EVENTS = Path(__file__).resolve().parents[2] / "events"
PROVIDER = "999988887777"
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
DECIDE_ROLE_NAME = "privatelink-acceptor-DecideFunctionRole-4B31D0496DC6"
DECIDE_ROLE = f"arn:aws:iam::{PROVIDER}:role/{DECIDE_ROLE_NAME}"


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket()
    yield
    enable_socket()


def detail_of(name: str) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    return copy.deepcopy(event["detail"])


def console_accept() -> dict[str, Any]:
    return detail_of("cloudtrail-accept-by-console-user.json")


def judge(detail: dict[str, Any], **kwargs: Any) -> OverrideAlert | Ignored:
    kwargs.setdefault("is_managed", {SERVICE}.__contains__)
    kwargs.setdefault("acceptor_role_arns", (DECIDE_ROLE,))
    return assess(detail, **kwargs)


def test_accept_by_console_user_on_managed_service_alerts_with_who_and_what() -> None:
    outcome = judge(console_accept())

    assert isinstance(outcome, OverrideAlert)
    assert outcome.event_name == "AcceptVpcEndpointConnections"
    assert outcome.service_id == SERVICE
    assert outcome.endpoint_ids == ("vpce-0e5f6a7b8c9d01234",)
    assert outcome.actor.endswith("/alice@example.com")
    assert outcome.actor_type == "AssumedRole"
    assert outcome.source_ip == "203.0.113.10"
    assert outcome.succeeded


def test_accept_by_acceptor_role_is_ignored() -> None:
    outcome = judge(detail_of("cloudtrail-accept-by-acceptor.json"))

    assert outcome == Ignored("the call was made by the acceptor's own role")


def test_acceptor_role_with_a_path_matches_its_session_without_one() -> None:
    # The role ARN the stack knows has a path; the session ARN CloudTrail shows drops it.
    detail = detail_of("cloudtrail-accept-by-acceptor.json")
    del detail["userIdentity"]["sessionContext"]
    pathed = f"arn:aws:iam::{PROVIDER}:role/service/{DECIDE_ROLE_NAME}"

    assert isinstance(judge(detail, acceptor_role_arns=(pathed,)), Ignored)


def test_same_role_name_in_another_account_is_not_the_acceptor() -> None:
    detail = detail_of("cloudtrail-accept-by-acceptor.json")
    other = DECIDE_ROLE.replace(PROVIDER, "123456789012")

    assert isinstance(judge(detail, acceptor_role_arns=(other,)), OverrideAlert)


def test_no_acceptor_roles_configured_alerts_even_on_the_acceptors_calls() -> None:
    outcome = judge(detail_of("cloudtrail-accept-by-acceptor.json"), acceptor_role_arns=())

    assert isinstance(outcome, OverrideAlert)


def test_unmanaged_service_is_ignored_with_the_reason() -> None:
    outcome = judge(console_accept(), is_managed={"vpce-svc-0b2c3d4e5f6a78901"}.__contains__)

    assert outcome == Ignored(f"{SERVICE} is not managed by the acceptor")


def test_empty_managed_list_means_every_service_is_managed() -> None:
    assert isinstance(judge(console_accept(), is_managed=lambda service_id: True), OverrideAlert)


def test_unwatched_call_is_ignored() -> None:
    detail = console_accept()
    detail["eventName"] = "DescribeVpcEndpointConnections"

    assert isinstance(judge(detail), Ignored)


def test_camel_case_parameters_without_wrapper_are_read() -> None:
    detail = console_accept()
    detail["requestParameters"] = {
        "serviceId": SERVICE,
        "vpcEndpointIds": ["vpce-0f1e2d3c4b5a69788", "vpce-0a1b2c3d4e5f60718"],
    }

    outcome = judge(detail)

    assert isinstance(outcome, OverrideAlert)
    assert outcome.service_id == SERVICE
    assert outcome.endpoint_ids == ("vpce-0f1e2d3c4b5a69788", "vpce-0a1b2c3d4e5f60718")


def test_several_endpoints_as_tagged_items_are_all_read() -> None:
    detail = console_accept()
    detail["requestParameters"] = {
        "RejectVpcEndpointConnectionsRequest": {
            "ServiceId": SERVICE,
            "VpcEndpointId": [
                {"tag": 1, "content": "vpce-0f1e2d3c4b5a69788"},
                {"tag": 2, "content": "vpce-0a1b2c3d4e5f60718"},
            ],
        }
    }
    detail["eventName"] = "RejectVpcEndpointConnections"

    outcome = judge(detail)

    assert isinstance(outcome, OverrideAlert)
    assert outcome.endpoint_ids == ("vpce-0f1e2d3c4b5a69788", "vpce-0a1b2c3d4e5f60718")
    assert outcome.what == "rejected endpoint connections"


def test_permission_change_reports_principals_added() -> None:
    outcome = judge(detail_of("cloudtrail-modify-permissions-by-console-user.json"))

    assert isinstance(outcome, OverrideAlert)
    assert outcome.principals_added == ("arn:aws:iam::777788889999:root",)
    assert outcome.principals_removed == ()


def test_service_found_only_inside_values_is_still_placed() -> None:
    detail = console_accept()
    detail["requestParameters"] = {"Something": {"Nested": [f"see {SERVICE}"]}}

    outcome = judge(detail)

    assert isinstance(outcome, OverrideAlert)
    assert outcome.service_id == SERVICE


def test_unreadable_service_alerts_rather_than_ignores() -> None:
    detail = console_accept()
    detail["requestParameters"] = None

    outcome = judge(detail)

    assert isinstance(outcome, OverrideAlert)
    assert outcome.service_id is None


def test_failed_call_still_alerts_and_says_it_failed() -> None:
    detail = console_accept()
    detail["errorCode"] = "Client.UnauthorizedOperation"
    detail["errorMessage"] = "You are not authorized to perform this operation."

    outcome = judge(detail)

    assert isinstance(outcome, OverrideAlert)
    assert not outcome.succeeded
    assert outcome.error_code == "Client.UnauthorizedOperation"


def test_iam_user_and_root_are_never_the_acceptor() -> None:
    for identity in (
        {"type": "IAMUser", "arn": f"arn:aws:iam::{PROVIDER}:user/bob", "userName": "bob"},
        {"type": "Root", "arn": f"arn:aws:iam::{PROVIDER}:root"},
    ):
        detail = console_accept()
        detail["userIdentity"] = identity

        outcome = judge(detail)

        assert isinstance(outcome, OverrideAlert)
        assert outcome.actor == identity["arn"]


@pytest.mark.parametrize(
    ("arn", "key"),
    [
        (DECIDE_ROLE, ("aws", PROVIDER, DECIDE_ROLE_NAME)),
        (f"arn:aws-cn:iam::{PROVIDER}:role/a/b/r1", ("aws-cn", PROVIDER, "r1")),
        (f"arn:aws:sts::{PROVIDER}:assumed-role/r1/session", ("aws", PROVIDER, "r1")),
        (f"arn:aws:iam::{PROVIDER}:user/r1", None),
        ("not an arn", None),
    ],
)
def test_role_key_reads_role_and_session_arns(arn: str, key: tuple[str, str, str] | None) -> None:
    assert role_key(arn) == key
