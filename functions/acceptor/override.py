"""Manual overrides: somebody other than the acceptor accepted, rejected or re-permissioned a
managed endpoint service.

Input is the `detail` of an "AWS API Call via CloudTrail" event (source `aws.ec2`) that the
default-bus rule routes here. CloudTrail records the newer EC2 APIs with the request wrapped in
`<Action>Request` and PascalCase keys, list items as `{"tag": n, "content": value}`; older
records and some tools use camelCase keys without the wrapper. Both are read: key names are
matched without regard to case, and values are flattened whatever their nesting.

Pure: no AWS, no environment; the managed services and the acceptor's roles are given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# The calls that change who is connected to a service, and how a person would say it.
WATCHED_CALLS: dict[str, str] = {
    "AcceptVpcEndpointConnections": "accepted endpoint connections",
    "RejectVpcEndpointConnections": "rejected endpoint connections",
    "ModifyVpcEndpointServicePermissions": "changed the principals allowed to connect",
}

_SERVICE_ID = re.compile(r"\bvpce-svc-(?:[0-9a-f]{17}|[0-9a-f]{8})\b")
_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$"
)
_ASSUMED_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/.+$"
)


@dataclass(frozen=True)
class OverrideAlert:
    """A watched call on a managed service by a principal that is not the acceptor."""

    event_id: str
    event_name: str
    what: str
    service_id: str | None
    endpoint_ids: tuple[str, ...]
    principals_added: tuple[str, ...]
    principals_removed: tuple[str, ...]
    actor: str
    actor_type: str
    account: str | None
    region: str | None
    event_time: str | None
    source_ip: str | None
    user_agent: str | None
    error_code: str | None
    error_message: str | None
    approver: str | None = None
    """The caller's IAM ARN as an approval names it (an assumed role's session ARN, which
    carries the role's name and the session); None when CloudTrail gives no ARN."""

    @property
    def succeeded(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class Ignored:
    """Not an override worth an alert; `reason` is logged."""

    reason: str


def assess(
    detail: Mapping[str, Any],
    *,
    is_managed: Callable[[str], bool],
    acceptor_role_arns: Collection[str],
) -> OverrideAlert | Ignored:
    """Decide whether a CloudTrail call is a manual override.

    `is_managed` says whether a service is managed (tagged for the acceptor, docs/operations.md,
    "Managed services"); it answers True when it cannot tell. A call whose service cannot be
    read is reported, not ignored: a change we cannot place is still a change someone should
    look at.
    """
    event_name = _text(detail.get("eventName"))
    if event_name not in WATCHED_CALLS:
        return Ignored(f"{event_name or 'an unnamed call'} is not a call that overrides decisions")
    parameters = _request_parameters(detail.get("requestParameters"))
    service_id = _service_id(parameters)
    if service_id is not None and not is_managed(service_id):
        return Ignored(f"{service_id} is not managed by the acceptor")
    identity = detail.get("userIdentity")
    identity = identity if isinstance(identity, Mapping) else {}
    if _is_acceptor(identity, acceptor_role_arns):
        return Ignored("the call was made by the acceptor's own role")
    return OverrideAlert(
        event_id=_text(detail.get("eventID")) or "",
        event_name=event_name,
        what=WATCHED_CALLS[event_name],
        service_id=service_id,
        endpoint_ids=_values(parameters, "vpcendpointid"),
        principals_added=_values(parameters, "addallowedprincipal"),
        principals_removed=_values(parameters, "removeallowedprincipal"),
        actor=_actor(identity),
        actor_type=_text(identity.get("type")) or "Unknown",
        account=_text(detail.get("recipientAccountId")),
        region=_text(detail.get("awsRegion")),
        event_time=_text(detail.get("eventTime")),
        source_ip=_text(detail.get("sourceIPAddress")),
        user_agent=_text(detail.get("userAgent")),
        error_code=_text(detail.get("errorCode")),
        error_message=_text(detail.get("errorMessage")),
        approver=approver_of(identity),
    )


def approver_of(identity: Mapping[str, Any]) -> str | None:
    """The identity a console accept is recorded under: the caller's ARN, the same form the
    approval URL takes from its request context (`approval.approvers` matches a role ARN to
    its sessions). An assumed role without its session ARN is named by its session issuer's
    role ARN and the session (from `principalId`, `ROLEID:session`); no ARN at all: None."""
    arn = _text(identity.get("arn"))
    if arn is not None:
        return arn
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    role = _text(issuer.get("arn")) if isinstance(issuer, Mapping) else None
    principal = _text(identity.get("principalId")) or ""
    if role is None or ":" not in principal:
        return None
    key = role_key(role)
    if key is None:
        return None
    partition, account, name = key
    session = principal.split(":", 1)[1]
    return f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}"


def role_key(arn: str) -> tuple[str, str, str] | None:
    """(partition, account, role name) of a role ARN or an assumed-role session ARN.

    Role names are unique in an account whatever their path, and an assumed-role ARN drops the
    path, so the name is what both forms share.
    """
    match = _ROLE_ARN.match(arn) or _ASSUMED_ROLE_ARN.match(arn)
    if match is None:
        return None
    return match["partition"], match["account"], match["name"]


def _is_acceptor(identity: Mapping[str, Any], acceptor_role_arns: Collection[str]) -> bool:
    if identity.get("type") != "AssumedRole":
        return False
    ours = {key for key in map(role_key, acceptor_role_arns) if key is not None}
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    candidates = [identity.get("arn")]
    if isinstance(issuer, Mapping):
        candidates.append(issuer.get("arn"))
    keys = {role_key(arn) for arn in candidates if isinstance(arn, str)}
    return bool(keys & ours)


def _actor(identity: Mapping[str, Any]) -> str:
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    for value in (
        identity.get("arn"),
        issuer.get("arn") if isinstance(issuer, Mapping) else None,
        identity.get("invokedBy"),
        identity.get("principalId"),
    ):
        if isinstance(value, str) and value:
            return value
    return "an unidentified principal"


def _request_parameters(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    if len(raw) == 1:
        ((key, inner),) = raw.items()
        if isinstance(key, str) and key.endswith("Request") and isinstance(inner, Mapping):
            return inner
    return raw


def _service_id(parameters: Mapping[str, Any]) -> str | None:
    named = _values(parameters, "serviceid")
    if len(set(named)) == 1:
        return named[0]
    found = {m for text in _strings(parameters) for m in _SERVICE_ID.findall(text)}
    return found.pop() if len(found) == 1 else None


def _values(parameters: Mapping[str, Any], key_prefix: str) -> tuple[str, ...]:
    """Strings under every key starting with `key_prefix` (any case), in order, once each."""
    seen: dict[str, None] = {}
    for key, value in parameters.items():
        if isinstance(key, str) and key.lower().startswith(key_prefix):
            for text in _strings(value):
                seen.setdefault(text, None)
    return tuple(seen)


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a CloudTrail value: plain, listed, `{"content": …}` or `{"items": …}`."""
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            if key != "tag":
                yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
