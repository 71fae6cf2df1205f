"""The OU path of a consumer account (root → parent), from Organizations ListParents.

Run from the management account (or a delegated administrator), or through
`ORGANIZATIONS_ROLE_ARN` in it. Parents are cached for the life of the reader (one invocation):
accounts of one OU share the walk above it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from acceptor.aws.clients import AwsClients
from acceptor.aws.errors import translate
from acceptor.decision.gather import NO_ORGANIZATIONS_ACCESS, OrgFacts

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

SESSION_NAME = "privatelink-acceptor-organizations"
# Organizations nests OUs at most five deep under the root; a longer walk is a loop.
MAX_DEPTH = 10


class OrganizationsReader:
    def __init__(self, clients: AwsClients | None, role_arn: str | None = None) -> None:
        """`clients` None means Organizations access is off: every OU path is unknown."""
        self._clients = clients
        self._role_arn = role_arn
        self._client: OrganizationsClient | None = None
        self._parents: dict[str, tuple[str, str]] = {}
        self._paths: dict[str, OrgFacts] = {}
        self._lock = threading.Lock()

    def ou_path(self, account: str) -> OrgFacts:
        cached = self._paths.get(account)
        if cached is None:
            cached = self._paths[account] = self._walk(account)
        return cached

    def _walk(self, account: str) -> OrgFacts:
        if self._clients is None:
            return OrgFacts.unknown(NO_ORGANIZATIONS_ACCESS)
        path: list[str] = []
        child = account
        try:
            for _ in range(MAX_DEPTH):
                parent = self._parent(child)
                if parent is None:
                    return OrgFacts.unknown(f"Organizations shows no parent of {child}")
                parent_id, parent_type = parent
                path.append(parent_id)
                if parent_type == "ROOT":
                    return OrgFacts(ou_path=tuple(reversed(path)))
                child = parent_id
        except ClientError as err:
            error = translate(err, "ListParents")
            if error.retryable:
                raise error from err
            return OrgFacts.unknown(_unplaced(account, error.code))
        return OrgFacts.unknown(f"the parents of account {account} do not reach a root")

    def _parent(self, child: str) -> tuple[str, str] | None:
        known = self._parents.get(child)
        if known is None:
            parents = self._organizations().list_parents(ChildId=child)["Parents"]
            if not parents:
                return None
            known = self._parents[child] = (parents[0]["Id"], parents[0]["Type"])
        return known

    def _organizations(self) -> OrganizationsClient:
        with self._lock:
            return self._organizations_client()

    def _organizations_client(self) -> OrganizationsClient:
        if self._client is None:
            if self._clients is None:
                raise RuntimeError("Organizations access is off")
            clients = self._clients
            if self._role_arn:
                clients = clients.assume_role(self._role_arn, session_name=SESSION_NAME)
            self._client = clients.organizations()
        return self._client


# Why an account has no OU path, in words a person acts on (the error codes of ListParents).
UNPLACED_REASONS: dict[str, str] = {
    "AccountNotFoundException": "account {account} is not a member of this organization",
    "ChildNotFoundException": "account {account} is not a member of this organization",
    "AccessDeniedException": "this stack may not read the organization's structure "
    "(see the OrganizationsAccess parameter)",
    "AWSOrganizationsNotInUseException": "this account is not in an organization",
}


def _unplaced(account: str, code: str) -> str:
    template = UNPLACED_REASONS.get(code)
    if template is None:
        return f"Organizations could not place account {account} ({code})"
    return template.format(account=account)
