"""Adding the ingress an accepted connection needs, against injected adapters.

No boto3 here: the adapters (`acceptor.aws.security_groups`, or fakes in tests) do the AWS side
and raise the domain errors of `model`. A domain error about one group is reported in that
group's outcome and the work goes on with the others; anything else propagates, so the function
fails and is retried (fail closed: an error never opens anything wider, it opens nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from acceptor.policy.model import SecurityGroups
from acceptor.security_groups.intents import complete, complete_open, ours_by_claim
from acceptor.security_groups.model import (
    AddedRule,
    AuthorizeResult,
    ConsumerEndpoint,
    ConsumerUnavailable,
    EndpointNotFound,
    ExistingRule,
    GroupOutcome,
    GroupRecord,
    Intent,
    Permission,
    Report,
    SecurityGroupError,
    Side,
)
from acceptor.security_groups.plan import plan_additions
from acceptor.security_groups.ports import Adapters, ConsumerApi, GroupApi, Request
from acceptor.security_groups.sources import Sources, consumer_sources, permissions
from acceptor.security_groups.work import Work, failed, note_open

# States in which there is no connection left to open anything for (provider and consumer
# spell them alike, in different case).
ENDED_STATES = frozenset({"deleting", "deleted", "rejected", "failed", "expired"})


def add_rules(request: Request, adapters: Adapters) -> Report:
    """Open the policy's ports from the consumer VPC CIDRs, on each side the policy names."""
    if request.account is None or request.region is None or request.service_id is None:
        raise ValueError("adding rules needs the consumer account, region and service")
    work = Work(
        request,
        adapters,
        account=request.account,
        region=request.region,
        service_id=request.service_id,
    )
    spec = request.spec or SecurityGroups()
    if spec.consumer_endpoint is None and spec.provider is None:
        return work.report("add")
    # The caller has re-read the connection (acceptor.security_groups.verify): it is pending or
    # available, of the account and service named here; the spec is the policy rule's own.
    if not request.dry_run:
        # Changes an earlier try left unrecorded are recorded first (never opened here).
        work.completions = complete_open(adapters, request.endpoint_id)
        note_open(work)
    work.records = {r.group_id: r for r in adapters.records.load(request.endpoint_id)}

    view = _consumer_view(work)
    if view.ended:
        return work.report("add")
    consumer, endpoint = view.api, view.endpoint

    sources, cidrs_from = _sources(work, view.cidrs, spec)

    if spec.consumer_endpoint is not None and consumer is not None and endpoint is not None:
        for group_id in endpoint.group_ids:
            work.groups.append(
                _consumer_group(
                    work,
                    consumer,
                    endpoint,
                    group_id,
                    spec.consumer_endpoint.ports,
                    allow_shared=spec.consumer_endpoint.allow_shared_groups,
                    sources=sources,
                )
            )

    if spec.provider is not None:
        _check_load_balancers(work, spec.provider.group, sources)
        work.groups.append(
            _add_to_group(
                work,
                adapters.provider,
                "provider",
                spec.provider.group,
                request.provider_account,
                request.provider_region,
                spec.provider.ports,
                sources,
            )
        )
    return work.report("add", sources, cidrs_from)


@dataclass(frozen=True)
class _ConsumerView:
    """What the consumer role shows of the endpoint; all None when it shows nothing."""

    api: ConsumerApi | None = None
    endpoint: ConsumerEndpoint | None = None
    cidrs: tuple[str, ...] | None = None
    ended: bool = False
    """The endpoint is gone or ending: nothing may be added, on either side."""


def _consumer_view(work: Work) -> _ConsumerView:
    try:
        api = work.adapters.consumer(work.account, work.region)
        endpoint = api.endpoint(work.request.endpoint_id)
    except ConsumerUnavailable as err:
        work.note("consumer-unavailable", str(err), side="consumer_endpoint")
        return _ConsumerView()
    except EndpointNotFound as err:
        work.note("endpoint-not-found", str(err), side="consumer_endpoint")
        return _ConsumerView(ended=True)
    if endpoint.state.lower() in ENDED_STATES:
        work.note(
            "endpoint-not-found",
            f"the endpoint is {endpoint.state}; nothing is added for a connection that ended",
            side="consumer_endpoint",
        )
        return _ConsumerView(ended=True)
    try:
        return _ConsumerView(api, endpoint, api.vpc_cidrs(endpoint.vpc_id))
    except ConsumerUnavailable as err:
        work.note("consumer-unavailable", str(err), side="consumer_endpoint")
        return _ConsumerView(api, endpoint)


def _sources(
    work: Work, fresh: tuple[str, ...] | None, spec: SecurityGroups
) -> tuple[Sources, str | None]:
    """Only what the consumer role reads now: an event's CIDRs are never a source."""
    sources = consumer_sources(
        fresh or (), max_cidrs=spec.max_cidrs, allow_public=spec.allow_public_cidrs
    )
    for refusal in sources.refused:
        work.note("cidr-refused", f"{refusal.cidr}: {refusal.reason}")
    if not sources.cidrs:
        work.note(
            "cidrs-unknown",
            "the consumer VPC CIDRs are unknown (the consumer role could not read them) or none "
            "may be opened; no ingress rule is added",
        )
        return sources, None
    return sources, "consumer-role"


def _consumer_group(
    work: Work,
    consumer: ConsumerApi,
    endpoint: ConsumerEndpoint,
    group_id: str,
    ports: Sequence[int],
    *,
    allow_shared: bool,
    sources: Sources,
) -> GroupOutcome:
    try:
        shared_with = tuple(
            sorted(set(consumer.interfaces_using(group_id)) - set(endpoint.interface_ids))
        )
    except SecurityGroupError as err:
        return failed(work, err, "consumer_endpoint", group_id, work.account)
    if shared_with and not allow_shared:
        work.note(
            "shared-group",
            f"{group_id} is also used by {', '.join(shared_with)}; the rule does not set "
            "allow_shared_groups, so the group is left untouched",
            group_id=group_id,
            side="consumer_endpoint",
        )
        return GroupOutcome(
            side="consumer_endpoint",
            group_id=group_id,
            owner_account=work.account,
            status="skipped",
            shared_with=shared_with,
            reason="shared with other network interfaces; allow_shared_groups is not set",
        )
    return _add_to_group(
        work,
        consumer,
        "consumer_endpoint",
        group_id,
        work.account,
        work.region,
        ports,
        sources,
        shared_with=shared_with,
    )


def _check_load_balancers(work: Work, group_id: str, sources: Sources) -> None:
    balancers = work.adapters.provider.load_balancers(work.service_id)
    with_groups = [lb for lb in balancers if lb.group_ids]
    if balancers and not with_groups:
        work.note(
            "no-load-balancer-groups",
            f"the load balancer of {work.service_id} has no security groups: no provider rule is "
            "needed for PrivateLink traffic to pass; the policy's rules are added anyway",
            group_id=group_id,
            side="provider",
        )
    elif with_groups and not any(group_id in lb.group_ids for lb in with_groups):
        work.note(
            "group-not-on-load-balancer",
            f"{group_id} is not attached to the load balancer of {work.service_id}; "
            "rules are added to it as the policy says, but they may not be the ones that count",
            group_id=group_id,
            side="provider",
        )
    enforcing = [lb for lb in with_groups if lb.enforcement != "off"]
    if enforcing and not sources.cidrs:
        arns = ", ".join(lb.arn for lb in enforcing)
        work.note(
            "nlb-enforces-unknown-cidrs",
            f"{arns} evaluates PrivateLink traffic against its security groups (or does not say "
            "it doesn't), and the consumer CIDRs are unknown: the connection will not work until "
            "they are known (deploy the consumer role); nothing wider is opened",
            group_id=group_id,
            side="provider",
        )


def _add_to_group(
    work: Work,
    api: GroupApi,
    side: Side,
    group_id: str,
    owner_account: str,
    region: str,
    ports: Sequence[int],
    sources: Sources,
    *,
    shared_with: tuple[str, ...] = (),
) -> GroupOutcome:
    r = work.request
    needed = permissions(ports, sources)
    if not needed:
        return GroupOutcome(
            side=side,
            group_id=group_id,
            owner_account=owner_account,
            status="skipped",
            shared_with=shared_with,
            reason="the consumer VPC CIDRs are unknown",
        )
    record = work.records.get(group_id)
    try:
        existing = api.ingress_rules(group_id)
        plan = plan_additions(needed, existing, record)
        present = tuple(
            [AddedRule(p, rule_id) for p, rule_id in plan.ours.items()]
            + [AddedRule(p, rule_id) for p, rule_id in plan.others.items()]
        )
        if r.dry_run:
            return GroupOutcome(
                side=side,
                group_id=group_id,
                owner_account=owner_account,
                status="planned",
                added=tuple(AddedRule(p, None) for p in plan.to_add),
                present=present,
                shared_with=shared_with,
            )
        adapters = work.adapters
        records = adapters.records
        if record is not None and plan.ours:
            # Held again on every delivery (idempotent): this also gives a rule recorded before
            # holder items existed its item, so that other connections can join it.
            records.record_created(record, plan.ours.values())
        # A rule of ours that another connection needed first (the same CIDR and port: every
        # default VPC is 172.31.0.0/16) is held by this connection too, so that it stays until
        # its last holder is gone (docs/security-groups.md, "Shared rules").
        shared = [rid for rid in plan.others.values() if records.holders(group_id, rid)]
        result = AuthorizeResult(created={})
        if plan.to_add or shared:
            record = record or _claim(work, group_id, side, owner_account, region)
        if record is not None:
            for rule_id in shared:
                records.join(record, rule_id)
        if plan.to_add and record is not None:
            result = _authorize(work, api, record, plan.to_add)
    except SecurityGroupError as err:
        return failed(work, err, side, group_id, owner_account, shared_with=shared_with)
    # Rules an open intent left unrecorded (docs/security-groups.md, "Intents") were added by
    # an earlier try of this change: reported as added now, when they are recorded.
    adopted = {a.permission: a.rule_id for a in work.completions.adopted(group_id)}
    adopted = {p: rid for p, rid in adopted.items() if plan.ours.get(p) == rid}
    present = tuple(a for a in present if a.permission not in adopted)
    created = {**adopted, **result.created}
    duplicates = tuple(AddedRule(p, None) for p in result.duplicates)
    return GroupOutcome(
        side=side,
        group_id=group_id,
        owner_account=owner_account,
        status="added" if created else "unchanged",
        added=tuple(AddedRule(p, rule_id) for p, rule_id in sorted(created.items())),
        present=present + duplicates,
        shared_with=shared_with,
        rules_used=rules_used(existing, result.created.keys()),
    )


def _authorize(
    work: Work, api: GroupApi, record: GroupRecord, to_add: tuple[Permission, ...]
) -> AuthorizeResult:
    """Authorize under an intent (docs/security-groups.md, "Intents"): written before the call,
    ended once what it created is held and recorded. When AWS refuses the call or answers a
    duplicate, the group is re-read: a duplicate carrying our claim tag was created by our own
    call whose response was lost (botocore's retry met it), so it is ours, and recorded."""
    records = work.adapters.records
    intent = records.begin(Intent("add", record, permissions=to_add))
    try:
        result = api.authorize(
            record.group_id, to_add, endpoint_id=record.endpoint_id, claim=record.claim
        )
    except SecurityGroupError:
        # Refused, perhaps after some rules were created one at a time: what exists is
        # recorded from a re-read before the refusal is reported (a failure of that re-read
        # leaves the intent open for the next try).
        complete(intent, api, work.adapters)
        raise
    created = dict(result.created)
    if result.duplicates:
        ours = ours_by_claim(record, api.ingress_rules(record.group_id))
        created.update({p: ours[p] for p in result.duplicates if p in ours})
    if created:
        records.record_created(record, created.values())
    records.end(intent)
    return AuthorizeResult(
        created=created, duplicates=tuple(p for p in result.duplicates if p not in created)
    )


def _claim(work: Work, group_id: str, side: Side, owner_account: str, region: str) -> GroupRecord:
    record = work.adapters.records.claim(
        GroupRecord(
            endpoint_id=work.request.endpoint_id,
            group_id=group_id,
            side=side,
            owner_account=owner_account,
            region=region,
            claim=work.adapters.new_claim(),
        )
    )
    work.records[group_id] = record
    return record


def rules_used(existing: Sequence[ExistingRule], created: Iterable[Permission]) -> int:
    """Inbound rules of the group after the change, for the IP version nearer its quota (EC2
    counts IPv4 and IPv6 rules against the quota separately)."""
    new = list(created)
    ipv6 = sum(1 for rule in existing if rule.cidr is not None and ":" in rule.cidr)
    ipv6 += sum(1 for p in new if p.ipv6)
    ipv4 = len(existing) + len(new) - ipv6
    return max(ipv4, ipv6)
