"""The name of a consumer account, from AWS Organizations (only when Organizations access is on).

Names are cached per execution environment: they change rarely, and a message with a stale
name still carries the account ID. A lookup that fails raises `AccountNameUnavailable`; the
caller shows the ID alone and says so in the log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from acceptor.notify.errors import AccountNameUnavailable

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient


class AccountNames:
    """`organizations` builds the client on demand (through the management-account role when
    one is configured); None means Organizations access is off and no name is ever looked up.
    """

    def __init__(self, organizations: Callable[[], OrganizationsClient] | None) -> None:
        self._organizations = organizations
        self._names: dict[str, str | None] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._organizations is not None

    def name_of(self, account_id: str) -> str | None:
        if self._organizations is None:
            return None
        with self._lock:
            if account_id in self._names:
                return self._names[account_id]
        try:
            response = self._organizations().describe_account(AccountId=account_id)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", "Unknown"))
            raise AccountNameUnavailable(
                f"Organizations DescribeAccount for {account_id} failed ({code})"
            ) from err
        name = response.get("Account", {}).get("Name") or None
        with self._lock:
            self._names[account_id] = name
        return name
