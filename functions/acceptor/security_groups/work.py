"""The state of one add or remove run: the outcomes and findings it collects, and its report."""

from __future__ import annotations

from dataclasses import dataclass, field

from acceptor.security_groups.intents import Completions
from acceptor.security_groups.model import (
    Finding,
    GroupOutcome,
    GroupRecord,
    Operation,
    Report,
    SecurityGroupError,
    Side,
)
from acceptor.security_groups.ports import Adapters, Request
from acceptor.security_groups.sources import Sources


@dataclass
class Work:
    request: Request
    adapters: Adapters
    records: dict[str, GroupRecord] = field(default_factory=dict)
    completions: Completions = field(default_factory=Completions)
    """Intents an earlier try left open, completed at the start of this one."""
    groups: list[GroupOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # The consumer account and region and the service, checked present when adding.
    account: str = ""
    region: str = ""
    service_id: str = ""

    def note(
        self, code: str, message: str, *, group_id: str | None = None, side: Side | None = None
    ) -> None:
        self.findings.append(Finding(code, message, group_id=group_id, side=side))

    def report(
        self, operation: Operation, sources: Sources | None = None, cidrs_from: str | None = None
    ) -> Report:
        r = self.request
        return Report(
            operation=operation,
            endpoint_id=r.endpoint_id,
            service_id=r.service_id,
            account=r.account,
            region=r.region,
            dry_run=r.dry_run,
            trigger=r.trigger,
            groups=tuple(self.groups),
            findings=tuple(self.findings),
            cidrs=() if sources is None else sources.cidrs,
            cidrs_from=cidrs_from,
        )


def failed(
    work: Work,
    err: SecurityGroupError,
    side: Side,
    group_id: str,
    owner_account: str,
    *,
    shared_with: tuple[str, ...] = (),
) -> GroupOutcome:
    work.note(err.code, str(err), group_id=group_id, side=side)
    return GroupOutcome(
        side=side,
        group_id=group_id,
        owner_account=owner_account,
        status="failed",
        shared_with=shared_with,
        reason=str(err),
    )


def note_open(work: Work) -> None:
    """Report the intents that could not be completed now (they stay open for the next try)."""
    for group_id, err in sorted(work.completions.failed.items()):
        work.note(
            "intent-open",
            f"an earlier change of {group_id} for {work.request.endpoint_id} may be unrecorded "
            f"and could not be completed now ({err}); its intent stays open for the next try",
            group_id=group_id,
        )
