"""Decide's gather stage: the policy facts of each request, one lookup per consumer account."""

from __future__ import annotations

from concurrent.futures import Executor

from acceptor.aws.errors import AwsError
from acceptor.decision.connection import Connection
from acceptor.decision.gather import ConsumerFacts, OrgFacts, RequestFacts, facts_for
from acceptor.flows.decide.ports import Consumers, Organizations
from acceptor.flows.decide.results import Claimed, StageResults


def gather(
    connections: dict[Claimed, Connection],
    consumers: Consumers,
    organizations: Organizations,
    pool: Executor,
) -> StageResults[RequestFacts]:
    results: StageResults[RequestFacts] = StageResults()
    by_account: dict[tuple[str, str], list[Claimed]] = {}
    for request, connection in connections.items():
        by_account.setdefault((connection.account, connection.region), []).append(request)

    def lookup(where: tuple[str, str]) -> tuple[dict[str, ConsumerFacts], OrgFacts] | AwsError:
        account, region = where
        endpoint_ids = [c.request.endpoint_id for c in by_account[where]]
        try:
            return consumers.facts(account, region, endpoint_ids), organizations.ou_path(account)
        except AwsError as err:
            return err

    for where, found in zip(by_account, pool.map(lookup, by_account), strict=True):
        group = by_account[where]
        if isinstance(found, AwsError):
            results.fail(group, found)
            continue
        consumer, org = found
        for request in group:
            results.done[request] = facts_for(
                connections[request], consumer[request.request.endpoint_id], org
            )
    return results
