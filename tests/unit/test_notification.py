"""Tolerant parsing of connection notifications: every plausible shape, and garbage."""

from __future__ import annotations

import json

import pytest

from acceptor.notification import (
    MAX_JSON_DEPTH,
    MAX_MESSAGE_CHARS,
    MAX_NUMBER_DIGITS,
    UnparseableNotification,
    parse_notification,
)

pytestmark = pytest.mark.disable_socket

SERVICE = "vpce-svc-0a1b2c3d4e5f67890"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
OTHER_ENDPOINT = "vpce-0d4e5f6a7b8c90123"


def test_camel_case_message_gives_every_field() -> None:
    message = json.dumps(
        {
            "awsAccountId": "111122223333",
            "endpointServiceId": SERVICE,
            "endpointId": ENDPOINT,
            "endpointState": "pendingAcceptance",
            "eventType": "Connect",
        }
    )

    parsed = parse_notification(message)

    assert parsed.endpoint_id == ENDPOINT
    assert parsed.service_id == SERVICE
    assert parsed.account == "111122223333"
    assert parsed.state == "pendingAcceptance"
    assert parsed.event_type == "Connect"


def test_pascal_case_keys_are_the_same_names() -> None:
    message = json.dumps(
        {
            "AwsAccountId": "444455556666",
            "ServiceId": SERVICE,
            "VpcEndpointId": ENDPOINT,
            "VpcEndpointState": "rejected",
            "EventType": "Reject",
        }
    )

    parsed = parse_notification(message)

    assert (parsed.endpoint_id, parsed.service_id, parsed.account) == (
        ENDPOINT,
        SERVICE,
        "444455556666",
    )
    assert (parsed.state, parsed.event_type) == ("rejected", "Reject")


def test_snake_case_and_connection_event_list_are_read() -> None:
    message = json.dumps(
        {"endpoint_id": ENDPOINT, "service_id": SERVICE, "connectionEvents": ["Delete"]}
    )

    parsed = parse_notification(message)

    assert parsed.event_type == "Delete"
    assert parsed.state is None


def test_fields_nested_in_a_detail_object_are_found() -> None:
    message = json.dumps(
        {
            "detail-type": "VPC Endpoint Connection Connect",
            "resources": [f"arn:aws:ec2:us-east-1:999988887777:vpc-endpoint-service/{SERVICE}"],
            "detail": {
                "vpcEndpointId": ENDPOINT,
                "vpcEndpointOwner": "222233334444",
                "state": "pendingAcceptance",
            },
        }
    )

    parsed = parse_notification(message)

    assert parsed.endpoint_id == ENDPOINT
    assert parsed.service_id == SERVICE, "found in the ARN when no key names it"
    assert parsed.account == "222233334444"
    assert parsed.event_type == "Connect", "inferred from the state"


def test_json_held_inside_a_string_is_read() -> None:
    inner = json.dumps({"endpointId": ENDPOINT, "endpointServiceId": SERVICE})

    parsed = parse_notification(json.dumps({"Message": inner}))

    assert (parsed.endpoint_id, parsed.service_id) == (ENDPOINT, SERVICE)


def test_plain_text_message_gives_ids_and_subject_gives_event() -> None:
    message = f"Accept: endpoint {ENDPOINT} to service {SERVICE} is now available."

    parsed = parse_notification(message, subject="VPC Endpoint Connection Accept")

    assert (parsed.endpoint_id, parsed.service_id) == (ENDPOINT, SERVICE)
    assert parsed.event_type == "Accept"
    assert parsed.account is None


def test_endpoint_dns_name_yields_the_endpoint_not_a_service() -> None:
    dns = f"{ENDPOINT}-abcdefgh.{SERVICE}.us-east-1.vpce.amazonaws.com"

    parsed = parse_notification(f"connection from {dns}")

    assert parsed.endpoint_id == ENDPOINT
    assert parsed.service_id == SERVICE


def test_keyed_endpoint_wins_over_ids_elsewhere_in_the_message() -> None:
    message = json.dumps({"endpointId": ENDPOINT, "note": f"replaces {OTHER_ENDPOINT}"})

    assert parse_notification(message).endpoint_id == ENDPOINT


def test_message_without_endpoint_id_is_unparseable() -> None:
    with pytest.raises(UnparseableNotification, match="no VPC endpoint"):
        parse_notification(json.dumps({"serviceId": SERVICE, "eventType": "Connect"}))


def test_two_different_endpoint_ids_are_unparseable_not_guessed() -> None:
    with pytest.raises(UnparseableNotification, match="several endpoint IDs"):
        parse_notification(f"endpoints {ENDPOINT} and {OTHER_ENDPOINT} to {SERVICE}")


def test_two_keyed_endpoint_ids_are_unparseable() -> None:
    message = json.dumps({"endpointId": ENDPOINT, "detail": {"vpcEndpointId": OTHER_ENDPOINT}})

    with pytest.raises(UnparseableNotification):
        parse_notification(message)


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "not json at all", "{broken json", "[]", "null", "42", json.dumps({"a": [1, 2]})],
)
def test_garbage_is_unparseable(garbage: str) -> None:
    with pytest.raises(UnparseableNotification):
        parse_notification(garbage)


def test_malformed_ids_under_known_keys_are_not_taken() -> None:
    message = json.dumps(
        {"endpointId": "vpce-XYZ", "awsAccountId": "12345", "endpointState": "weird"}
    )

    with pytest.raises(UnparseableNotification):
        parse_notification(message)


def test_conflicting_service_ids_leave_the_service_unknown() -> None:
    message = json.dumps(
        {
            "endpointId": ENDPOINT,
            "serviceId": SERVICE,
            "detail": {"endpointServiceId": "vpce-svc-0b2c3d4e5f6a78901"},
        }
    )

    parsed = parse_notification(message)

    assert parsed.endpoint_id == ENDPOINT
    assert parsed.service_id is None


def test_connection_word_alone_is_not_a_connect_event() -> None:
    message = json.dumps({"endpointId": ENDPOINT, "eventName": "VpcEndpointConnectionAccepted"})

    assert parse_notification(message).event_type == "Accept"


def test_nesting_below_the_json_bound_but_past_the_walk_still_finds_the_id_in_the_text() -> None:
    node: object = {"endpointId": ENDPOINT}
    for _ in range(MAX_JSON_DEPTH - 1):
        node = {"wrap": node}

    # Beyond the walk's depth keys are not read, but the ID is still found in the text.
    assert parse_notification(json.dumps(node)).endpoint_id == ENDPOINT


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH, 998, 999, 5000])
def test_nesting_beyond_the_json_bound_is_unparseable_not_a_recursion_error(levels: int) -> None:
    node = '{"endpointId": "' + ENDPOINT + '"}'
    message = '{"wrap": ' * levels + node + "}" * levels

    with pytest.raises(UnparseableNotification, match="levels deep"):
        parse_notification(message)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    message = json.dumps({"endpointId": ENDPOINT, "note": "[[[{{{" * 100 + '\\" [['})

    assert parse_notification(message).endpoint_id == ENDPOINT


def test_deep_json_held_in_a_string_is_not_decoded_and_the_rest_is_read() -> None:
    deep = "[" * 5000 + "]" * 5000
    message = json.dumps({"endpointId": ENDPOINT, "detail": deep, "big": "9" * 5000})

    assert parse_notification(message).endpoint_id == ENDPOINT


@pytest.mark.parametrize("digits", [MAX_NUMBER_DIGITS + 1, 4301, 10_000])
def test_an_integer_of_too_many_digits_is_unparseable_not_a_value_error(digits: int) -> None:
    message = '{"endpointId": "' + ENDPOINT + '", "n": -' + "9" * digits + "}"

    with pytest.raises(UnparseableNotification, match="digits"):
        parse_notification(message)


def test_an_account_id_written_as_a_number_is_within_the_bound() -> None:
    message = '{"endpointId": "' + ENDPOINT + '", "awsAccountId": 111122223333}'

    assert parse_notification(message).endpoint_id == ENDPOINT


def test_a_message_over_the_sns_size_limit_is_unparseable() -> None:
    with pytest.raises(UnparseableNotification, match="characters"):
        parse_notification(ENDPOINT + " " * MAX_MESSAGE_CHARS)


def test_a_subject_over_the_sns_limit_is_unparseable() -> None:
    with pytest.raises(UnparseableNotification, match="subject"):
        parse_notification(ENDPOINT, "Connect" * 20)
