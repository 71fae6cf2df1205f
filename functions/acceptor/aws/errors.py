"""AWS error codes translated into the few domain errors the flows care about (one table)."""

from __future__ import annotations

from botocore.exceptions import ClientError


class AwsError(Exception):
    """An AWS call failed; `code` is AWS's error code, `action` the API action."""

    retryable = False

    def __init__(self, action: str, code: str, message: str) -> None:
        self.action = action
        self.code = code
        super().__init__(f"{action} failed: {code}: {message}")


class Throttled(AwsError):
    """Still throttled after botocore's own retries: the invocation should be retried later."""

    retryable = True


class Unavailable(AwsError):
    retryable = True


class AccessDenied(AwsError):
    """A role or permission is missing: a configuration error, alarmed through the DLQ."""


class NotFound(AwsError):
    pass


class InvalidRequest(AwsError):
    pass


ERRORS: dict[str, type[AwsError]] = {
    "RequestLimitExceeded": Throttled,
    "Throttling": Throttled,
    "ThrottlingException": Throttled,
    "TooManyRequestsException": Throttled,
    "ProvisionedThroughputExceededException": Throttled,
    "InternalError": Unavailable,
    "InternalFailure": Unavailable,
    "ServiceUnavailable": Unavailable,
    "ServiceUnavailableException": Unavailable,
    "Unavailable": Unavailable,
    "AccessDenied": AccessDenied,
    "AccessDeniedException": AccessDenied,
    "UnauthorizedOperation": AccessDenied,
    "AuthFailure": AccessDenied,
    "InvalidClientTokenId": AccessDenied,
    "AWSOrganizationsNotInUseException": AccessDenied,
    "ResourceNotFoundException": NotFound,
    "ChildNotFoundException": NotFound,
    "InvalidVpcEndpointId.NotFound": NotFound,
    "InvalidVpcEndpointServiceId.NotFound": NotFound,
    "InvalidVpcID.NotFound": NotFound,
    "InvalidParameterValue": InvalidRequest,
    "InvalidParameter": InvalidRequest,
    "ValidationException": InvalidRequest,
    "ValidationError": InvalidRequest,
}


def translate(err: ClientError, action: str) -> AwsError:
    error = err.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    kind = ERRORS.get(code, AwsError)
    return kind(action, code, str(error.get("Message", "")))
