"""Every moto internal the PrivateLink extension relies on, and nothing else.

moto is pinned (see pyproject.toml). The extension reaches into moto's classes and backends
only through this module, and tests/integration/local_aws/test_local_aws_moto_internals.py
checks each name, signature and behaviour used here, so that a moto upgrade fails there,
loudly, instead of changing the local AWS silently. Imports happen inside the functions:
importing this module does not import moto.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MOTO_VERSION = "5.2.5"
PARTITION = "aws"


def moto_version() -> str:
    import moto

    return str(moto.__version__)


def ec2_response_class() -> Any:
    """The class whose snake_case methods are the EC2 actions (dispatch is by method name)."""
    from moto.ec2.responses import EC2Response

    return EC2Response


def base_response_class() -> Any:
    """Every service's response class derives from it; `call_action` runs one API action."""
    from moto.core.responses import BaseResponse

    return BaseResponse


def vpc_backend_class() -> Any:
    """Holds create_vpc_endpoint / delete_vpc_endpoints, inherited by the EC2 backend."""
    from moto.ec2.models.vpcs import VPCBackend

    return VPCBackend


def action_result(value: object) -> Any:
    """What a response method returns; moto serializes it with botocore's output shape."""
    from moto.core.responses import ActionResult

    return ActionResult(value)


def ec2_backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def existing_ec2_backends() -> Iterator[tuple[str, str, Any]]:
    """(account, region, backend) for every EC2 backend that already exists; creates none."""
    from moto.ec2.models import ec2_backends

    for account_id, regions in list(ec2_backends.items()):
        for region, backend in list(dict.items(regions)):
            yield account_id, region, backend


def default_security_group_id(backend: Any, vpc_id: str) -> str:
    group = backend.get_security_group_from_name("default", vpc_id)
    if group is None:
        raise unknown_vpc(vpc_id)
    return str(group.id)


def service_supported_regions(config: Any) -> list[str]:
    """The regions a `VPCServiceConfiguration` serves besides its own (cross-region PrivateLink)."""
    return [str(region) for region in config._supported_region_names]


def sns_topic_exists(topic_arn: str) -> bool:
    from moto.sns.models import sns_backends

    account, region = _arn_account_region(topic_arn)
    return topic_arn in sns_backends[account][region].topics


def sns_subscription_class() -> Any:
    """moto's SNS subscription: its `publish` delivers one message to one endpoint (SQS, HTTP,
    Lambda...) inside the Publish call, and a failure there fails the whole Publish."""
    from moto.sns.models import Subscription

    return Subscription


def delivery_errors() -> tuple[type[BaseException], ...]:
    """What a subscription's delivery raises when its endpoint refuses it: moto's service
    errors (both of its styles: a queue that does not exist, a KMS key...) and HTTP errors."""
    import requests
    from moto.core.exceptions import ServiceException, _RESTError

    return (ServiceException, _RESTError, requests.RequestException)


def sns_publish(topic_arn: str, message: str) -> str:
    """Publish as AWS itself would (no caller credentials); returns the message ID."""
    from moto.sns.models import sns_backends

    account, region = _arn_account_region(topic_arn)
    message_id: str = sns_backends[account][region].publish(message=message, arn=topic_arn)
    return message_id


def organizations_backend(account_id: str) -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[account_id][PARTITION]


def organization_member_accounts() -> dict[str, tuple[str, str]]:
    """member account ID -> (management account ID, partition); survives moto's own reset."""
    from moto.organizations.models import organizations_backends

    members: dict[str, tuple[str, str]] = organizations_backends.master_accounts
    return members


def assumed_role_credentials(access_key_id: str) -> dict[str, str] | None:
    """The session moto issued for `access_key_id` (sts:AssumeRole): its ARN, account, user
    ID, secret key and session token; None when moto issued no such key."""
    from moto.sts.models import sts_backends

    for account_id in list(sts_backends):
        for partition in list(sts_backends[account_id]):
            found = sts_backends[account_id][partition].get_assumed_role_from_access_key(
                access_key_id
            )
            if found is not None:
                return {
                    "arn": str(found.arn),
                    "account": str(found.account_id),
                    "user_id": str(found.user_id),
                    "secret_access_key": str(found.secret_access_key),
                    "session_token": str(found.session_token),
                }
    return None


def reset_all_backends() -> None:
    """Forget every resource of every account, as a fresh moto would start."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()
    organization_member_accounts().clear()


def seed_random(seed: int) -> None:
    """moto draws every generated ID from one Random: seeding it makes IDs repeatable."""
    from moto.moto_api._internal import mock_random

    mock_random.seed(seed)


def random_hex(length: int) -> str:
    from moto.moto_api._internal import mock_random

    value: str = mock_random.get_random_hex(length)
    return value


def mock_aws_context() -> Any:
    """moto's in-process mock, leaving the environment's credentials alone."""
    from moto import mock_aws

    return mock_aws(config={"core": {"mock_credentials": False, "reset_boto3_session": True}})


def wsgi_application() -> Any:
    """The WSGI app of `moto_server` (routes each request to a service by its signature)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def wsgi_request_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


# Pinned identifiers: policies name services and OUs, so the world fixes their IDs. moto invents
# them, so they are re-keyed right after creation, before anything refers to them.


def pin_endpoint_service_id(account_id: str, region: str, current: str, wanted: str) -> None:
    backend = ec2_backend(account_id, region)
    if wanted in backend.configurations:
        raise ValueError(f"endpoint service {wanted} already exists")
    config = backend.configurations.pop(current)
    config.id = wanted
    config.service_name = f"com.amazonaws.vpce.{region}.{wanted}"
    config.endpoint_dns_name = f"{wanted}.{region}.vpce.amazonaws.com"
    backend.configurations[wanted] = config
    if current in backend.tags:
        backend.tags[wanted] = backend.tags.pop(current)


# The generators moto calls for the IDs of the EC2 resources a world may pin, by resource kind:
# (module that calls it, name it is called by there). Pinning replaces the generator for the next
# creation, so everything built from the ID (an endpoint's DNS names, its connection record and
# notification, a VPC's default group) uses the pinned one from the start.
PINNABLE_IDS: dict[str, tuple[str, str]] = {
    "vpc": ("moto.ec2.models.vpcs", "random_vpc_id"),
    "vpc-endpoint": ("moto.ec2.models.vpcs", "random_vpc_ep_id"),
    "security-group": ("moto.ec2.models.security_groups", "random_security_group_id"),
}


@contextmanager
def pinned_id(kind: str, wanted: str) -> Iterator[None]:
    """The next resource of `kind` created in this block gets the ID `wanted`. The random draw
    still happens (and is dropped), so every other ID the world generates stays the same."""
    module_name, attribute = PINNABLE_IDS[kind]
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    pending = [wanted]

    def generate() -> str:
        drawn: str = original()
        return pending.pop() if pending else drawn

    setattr(module, attribute, generate)
    try:
        yield
    finally:
        setattr(module, attribute, original)
    if pending:
        raise RuntimeError(f"moto created no {kind} while {wanted} was pinned")


def pin_organization_root_id(management_account: str, wanted: str) -> None:
    backend = organizations_backend(management_account)
    current = backend.org.root_id
    for unit in backend.ou:
        if unit.id == current:
            unit.id = wanted
        if unit.parent_id == current:
            unit.parent_id = wanted
    for account in backend.accounts:
        if account.parent_id == current:
            account.parent_id = wanted
    backend.org.root_id = wanted


def pin_organizational_unit_id(management_account: str, current: str, wanted: str) -> None:
    backend = organizations_backend(management_account)
    if any(unit.id == wanted for unit in backend.ou):
        raise ValueError(f"organizational unit {wanted} already exists")
    if any(unit.parent_id == current for unit in backend.ou) or any(
        account.parent_id == current for account in backend.accounts
    ):
        raise ValueError(f"organizational unit {current} already has children: pin it first")
    backend.get_organizational_unit_by_id(current).id = wanted


def pin_account_id(management_account: str, current: str, wanted: str) -> None:
    backend = organizations_backend(management_account)
    if any(account.id == wanted for account in backend.accounts):
        raise ValueError(f"account {wanted} is already in the organization")
    backend.get_account_by_id(current).id = wanted
    members = organization_member_accounts()
    members[wanted] = members.pop(current)


def set_account_name(management_account: str, account_id: str, name: str) -> None:
    organizations_backend(management_account).get_account_by_id(account_id).name = name


# Errors, rendered by moto in the protocol of the service that raises them.


def service_error(code: str, message: str) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    error: Exception = EC2ClientError(code, message)
    return error


def invalid_service_name(service_name: str) -> Exception:
    from moto.ec2.exceptions import InvalidServiceName

    error: Exception = InvalidServiceName(service_name)
    return error


def unknown_endpoint_service(service_id: str) -> Exception:
    from moto.ec2.exceptions import UnknownVpcEndpointService

    error: Exception = UnknownVpcEndpointService(service_id)
    return error


def unknown_endpoint(endpoint_id: str) -> Exception:
    from moto.ec2.exceptions import InvalidVpcEndPointIdError

    error: Exception = InvalidVpcEndPointIdError(endpoint_id)
    return error


def unknown_vpc(vpc_id: str) -> Exception:
    from moto.ec2.exceptions import InvalidVPCIdError

    error: Exception = InvalidVPCIdError(vpc_id)
    return error


def invalid_next_token(token: str) -> Exception:
    from moto.ec2.exceptions import InvalidNextToken

    error: Exception = InvalidNextToken(token)
    return error


def generic_service_exception(code: str, message: str) -> Exception:
    """An error any service's serializer can render (used by the fault injector). moto looks up
    the error shape in the botocore model of the package that defines the exception's class, so
    the class must not belong to moto.core (which has no model)."""
    from moto.core.exceptions import ServiceException

    injected = type("InjectedFault", (ServiceException,), {"__module__": __name__})
    error: Exception = injected(code, message)
    return error


def _arn_account_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[4], parts[3]
