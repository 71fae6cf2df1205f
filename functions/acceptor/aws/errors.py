"""AWS error codes translated into the few domain errors the flows care about: the one table
and the one `translate` (docs/architecture.md, "AWS errors"). Adapters needing a finer error of
their own domain map from these kinds, never from codes."""

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


class LimitExceeded(AwsError):
    """A quota of the resource is reached (e.g. rules per security group)."""


class Duplicate(AwsError):
    """What the call would add is already there: success for an idempotent caller."""


class AlreadyGone(AwsError):
    """What the call would remove is not there: success for an idempotent caller."""


class ConditionFailed(AwsError):
    """A conditional write found the item not as its condition asked: someone else's write won,
    or the write was done already. The adapter says which in its own domain's words."""


class KeyUnusable(AwsError):
    """The KMS key that protects the resource refuses this function, or is disabled or gone."""


ERRORS: dict[str, type[AwsError]] = {
    "RequestLimitExceeded": Throttled,
    "Throttling": Throttled,
    "ThrottlingException": Throttled,
    "TooManyRequestsException": Throttled,
    "ProvisionedThroughputExceededException": Throttled,
    "Throttled": Throttled,
    "InternalError": Unavailable,
    "InternalException": Unavailable,
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
    "AuthorizationError": AccessDenied,
    "ResourceNotFoundException": NotFound,
    "NotFound": NotFound,
    "ParameterNotFound": NotFound,
    "ParameterVersionNotFound": NotFound,
    "InvalidGroup.NotFound": NotFound,
    "InvalidGroupId.NotFound": NotFound,
    "InvalidGroupId.Malformed": NotFound,
    "InvalidVpcEndpointId.Malformed": NotFound,
    "ChildNotFoundException": NotFound,
    "InvalidVpcEndpointId.NotFound": NotFound,
    "InvalidVpcEndpointServiceId.NotFound": NotFound,
    "InvalidVpcID.NotFound": NotFound,
    "InvalidParameterValue": InvalidRequest,
    "InvalidParameter": InvalidRequest,
    "ValidationException": InvalidRequest,
    "ValidationError": InvalidRequest,
    "InvalidParameterException": InvalidRequest,
    "InvalidRequestException": InvalidRequest,
    "RulesPerSecurityGroupLimitExceeded": LimitExceeded,
    "SecurityGroupRuleLimitExceeded": LimitExceeded,
    "InvalidPermission.Duplicate": Duplicate,
    "InvalidPermission.NotFound": AlreadyGone,
    "InvalidSecurityGroupRuleId.NotFound": AlreadyGone,
    "ConditionalCheckFailedException": ConditionFailed,
    "DecryptionFailure": KeyUnusable,
    "InvalidKeyId": KeyUnusable,
    "KMSAccessDeniedException": KeyUnusable,
    "KMSAccessDenied": KeyUnusable,
    "KMSDisabled": KeyUnusable,
    "KMSNotFound": KeyUnusable,
}


def kind_of(code: str) -> type[AwsError]:
    """The domain error of an AWS error code (`AwsError` itself for a code not in the table)."""
    return ERRORS.get(code, AwsError)


def translate(err: ClientError, action: str) -> AwsError:
    """The domain error for `err`; callers raise it `from err`."""
    error = err.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    return kind_of(code)(action, code, str(error.get("Message", "")))


def unless_condition_failed(err: ClientError, action: str) -> None:
    """Return when `err` is a conditional write's failed condition (the adapter says what that
    means in its own domain); raise any other error as its domain kind."""
    error = translate(err, action)
    if not isinstance(error, ConditionFailed):
        raise error from err
