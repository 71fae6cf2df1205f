"""Decide's stages report every request they were given: done, skipped or failed."""

from __future__ import annotations

from handler_fakes import NOW, FakeEc2, pending

from acceptor.aws.errors import Throttled
from acceptor.contract import RequestedDetail
from acceptor.decision.decide_one import decide_one
from acceptor.decision.gather import ConsumerFacts, OrgFacts, facts_for
from acceptor.decision.records import NO_RECORDS
from acceptor.flows.decide.act import act
from acceptor.flows.decide.reread import GONE, reread
from acceptor.flows.decide.results import Claimed
from acceptor.policy.model import PolicyFile
from acceptor.policy.policy_set import PolicyDocument, PolicySet

ACCEPT_ALL = PolicySet.from_documents(
    [
        PolicyDocument(
            "policies/acceptor.yaml",
            PolicyFile.model_validate(
                {
                    "version": 1,
                    "services": ["*"],
                    "rules": [
                        {
                            "name": "payments",
                            "decision": "accept",
                            "when": {"accounts": ["111122223333"]},
                        }
                    ],
                }
            ),
        )
    ]
)


def claimed(endpoint_id: str) -> Claimed:
    connection = pending(endpoint_id)
    request = RequestedDetail(
        service_id=connection.service_id,
        endpoint_id=endpoint_id,
        account=connection.account,
        region=connection.region,
        state=connection.state,
        created_at=connection.created_at,
        origin="sweep",
        correlation_id="sweep-1",
    )
    return Claimed({"endpoint_id": endpoint_id}, [f"m-{endpoint_id}"], request)


def test_reread_is_done_for_a_shown_connection_and_skips_one_ec2_no_longer_shows() -> None:
    shown, gone = claimed("vpce-00000001"), claimed("vpce-00000002")
    ec2 = FakeEc2([pending("vpce-00000001")])

    results = reread([shown, gone], ec2)

    assert list(results.done) == [shown]
    assert results.skipped == {gone: GONE}
    assert results.failed == {}


def test_reread_fails_every_request_of_a_service_whose_call_failed() -> None:
    one, two = claimed("vpce-00000001"), claimed("vpce-00000002")
    ec2 = FakeEc2([pending("vpce-00000001"), pending("vpce-00000002")])
    ec2.describe_error = Throttled("DescribeVpcEndpointConnections", "Throttling", "slow down")

    results = reread([one, two], ec2)

    assert (results.done, results.skipped) == ({}, {})
    assert set(results.failed) == {one, two}


def test_act_is_done_for_each_decision_and_fails_those_whose_call_failed() -> None:
    # Given an accept decided for one request
    request = claimed("vpce-00000001")
    connection = pending("vpce-00000001")
    gathered = facts_for(connection, ConsumerFacts(), OrgFacts())
    decision = decide_one(request.request, connection, gathered, NO_RECORDS, ACCEPT_ALL, NOW)
    working, broken = FakeEc2([connection]), FakeEc2([connection])
    broken.call_error = Throttled("AcceptVpcEndpointConnections", "Throttling", "slow down")

    # When it is acted on, once with EC2 working and once with the call failing
    done = act({request: decision}, working, dry_run=False)
    failed = act({request: decision}, broken, dry_run=False)

    # Then the first is done with its action, the second failed with the call's error
    assert decision.action == "accept"
    assert (done.done[request].action.result, done.done[request].state_after) == (
        "succeeded",
        "available",
    )
    assert failed.failed == {request: broken.call_error}
