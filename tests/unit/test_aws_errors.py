"""The one table of AWS errors: a conditional write's failed condition is the adapter's to
read; every other error is raised as its domain kind."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from acceptor.aws.errors import Throttled, unless_condition_failed


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")


def test_a_failed_condition_returns_to_the_adapter() -> None:
    assert (
        unless_condition_failed(client_error("ConditionalCheckFailedException"), "PutItem") is None
    )


def test_any_other_error_is_raised_as_its_domain_kind() -> None:
    with pytest.raises(Throttled, match="PutItem failed: ThrottlingException"):
        unless_condition_failed(client_error("ThrottlingException"), "PutItem")
