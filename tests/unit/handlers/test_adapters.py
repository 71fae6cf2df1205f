"""The adapters against botocore's Stubber: what each sends, and how it reads AWS's answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from acceptor.aws import clients as clients_module
from acceptor.aws.bus import MAX_BYTES, Bus, EventsNotPut
from acceptor.aws.clients import AwsClients
from acceptor.aws.consumer import ConsumerReader, FactsCache, vpc_cidrs
from acceptor.aws.decision_log import DecisionLog, DecisionsNotWritten
from acceptor.aws.ec2 import ProviderEc2
from acceptor.aws.errors import AccessDenied, AwsError, NotFound, Throttled, translate
from acceptor.aws.organizations import OrganizationsReader
from acceptor.contract import RequestedDetail, requested
from acceptor.decision.gather import NO_CONSUMER_ROLE, NO_ORGANIZATIONS_ACCESS
from helpers.aws import fake_session

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
SERVICE = "vpce-svc-0a1b2c3d4e5f67890"


def clients() -> AwsClients:
    return AwsClients(fake_session())


@pytest.fixture
def aws() -> AwsClients:
    return clients()


def stubbed(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def event(n: int, padding: str = "") -> Any:
    return requested(
        RequestedDetail(
            service_id=SERVICE,
            endpoint_id=f"vpce-{n:08x}",
            account="111122223333",
            region="us-east-1",
            state="pendingAcceptance",
            created_at=NOW,
            origin="sweep",
            correlation_id="sweep-1" + padding,
        )
    )


# errors


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("RequestLimitExceeded", Throttled),
        ("UnauthorizedOperation", AccessDenied),
        ("InvalidVpcEndpointId.NotFound", NotFound),
        ("SomethingNew", AwsError),
    ],
)
def test_error_codes_become_domain_errors(code: str, kind: type[AwsError]) -> None:
    error = translate(ClientError({"Error": {"Code": code, "Message": "m"}}, "X"), "X")

    assert type(error) is kind
    assert error.code == code


# bus


def test_events_go_ten_a_call(aws: AwsClients) -> None:
    bus = Bus(aws.events(), "privatelink-acceptor", sleep=lambda _: None)
    for stubber in stubbed(aws.events()):
        for size in (10, 10, 5):
            stubber.add_response(
                "put_events",
                {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}] * size},
                {"Entries": ANY},
            )

        bus.put([event(n) for n in range(25)])


def test_a_large_batch_is_split_to_stay_under_256_kb(aws: AwsClients) -> None:
    bus = Bus(aws.events(), "privatelink-acceptor", sleep=lambda _: None)
    big = [event(n, "x" * 60_000) for n in range(5)]
    per_call = MAX_BYTES // len(json.dumps(big[0].entry("b")))
    for stubber in stubbed(aws.events()):
        for start in range(0, 5, per_call):
            count = min(per_call, 5 - start)
            stubber.add_response(
                "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}] * count}
            )

        bus.put(big)


def test_only_the_throttled_entry_is_sent_again(aws: AwsClients) -> None:
    bus = Bus(aws.events(), "privatelink-acceptor", sleep=lambda _: None)
    events = [event(n) for n in range(3)]
    for stubber in stubbed(aws.events()):
        stubber.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [
                    {"EventId": "1"},
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"},
                    {"EventId": "3"},
                ],
            },
        )
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}]},
            {"Entries": [events[1].entry("privatelink-acceptor")]},
        )

        bus.put(events)


def test_entries_still_failing_after_the_last_attempt_are_named(aws: AwsClients) -> None:
    bus = Bus(aws.events(), "privatelink-acceptor", sleep=lambda _: None)
    throttled = {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}],
    }
    for stubber in stubbed(aws.events()):
        for _ in range(3):
            stubber.add_response("put_events", throttled)

        with pytest.raises(EventsNotPut) as raised:
            bus.put([event(1)])

    assert [f.index for f in raised.value.failed] == [0]


def test_an_entry_refused_for_good_is_not_retried(aws: AwsClients) -> None:
    bus = Bus(aws.events(), "privatelink-acceptor", sleep=lambda _: None)
    refused = {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "no"}],
    }
    for stubber in stubbed(aws.events()):
        stubber.add_response("put_events", refused)

        failed = bus.try_put([event(1)])

    assert [(f.index, f.code) for f in failed] == [(0, "MalformedDetail")]


# decision log

UNPROCESSED = {"endpoint_id": {"S": "vpce-00000001"}, "decided_at": {"S": "t"}}


def test_unprocessed_decision_items_are_written_again(aws: AwsClients) -> None:
    log = DecisionLog(aws.dynamodb(), "decisions", sleep=lambda _: None)
    items = [{"endpoint_id": f"vpce-{n:08x}", "decided_at": "t"} for n in range(30)]
    leftover = {
        "decisions": [
            {
                "PutRequest": {
                    "Item": {"endpoint_id": {"S": "vpce-00000001"}, "decided_at": {"S": "t"}}
                }
            }
        ]
    }
    for stubber in stubbed(aws.dynamodb()):
        stubber.add_response("batch_write_item", {"UnprocessedItems": leftover})
        stubber.add_response(
            "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": leftover}
        )
        stubber.add_response("batch_write_item", {"UnprocessedItems": {}})

        log.write(items)


def test_decision_items_never_processed_are_named(aws: AwsClients) -> None:
    log = DecisionLog(aws.dynamodb(), "decisions", sleep=lambda _: None)
    leftover = {
        "decisions": [
            {
                "PutRequest": {
                    "Item": {"endpoint_id": {"S": "vpce-00000001"}, "decided_at": {"S": "t"}}
                }
            }
        ]
    }
    for stubber in stubbed(aws.dynamodb()):
        for _ in range(3):
            stubber.add_response("batch_write_item", {"UnprocessedItems": leftover})

        with pytest.raises(DecisionsNotWritten) as raised:
            log.write([{"endpoint_id": "vpce-00000001", "decided_at": "t"}])

    assert raised.value.endpoint_ids == ("vpce-00000001",)


# provider EC2


def test_connections_are_reread_by_service_and_endpoint(aws: AwsClients) -> None:
    ec2 = ProviderEc2(aws.ec2(), "us-east-1")
    connection = {
        "ServiceId": SERVICE,
        "VpcEndpointId": "vpce-00000001",
        "VpcEndpointOwner": "111122223333",
        "VpcEndpointState": "pendingAcceptance",
        "CreationTimestamp": NOW,
        "VpcEndpointRegion": "us-west-2",
    }
    for stubber in stubbed(aws.ec2()):
        stubber.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection]},
            {
                "Filters": [
                    {"Name": "vpc-endpoint-id", "Values": ["vpce-00000001", "vpce-00000002"]},
                    {"Name": "service-id", "Values": [SERVICE]},
                ],
                "MaxResults": 1000,
            },
        )

        found = ec2.connections(SERVICE, ["vpce-00000002", "vpce-00000001"])

    assert list(found) == ["vpce-00000001"]
    assert found["vpce-00000001"].region == "us-west-2"


def _connection(endpoint_id: str) -> dict[str, Any]:
    return {
        "ServiceId": SERVICE,
        "VpcEndpointId": endpoint_id,
        "VpcEndpointOwner": "111122223333",
        "VpcEndpointState": "available",
        "CreationTimestamp": NOW,
    }


@pytest.mark.parametrize("code", ["InvalidFilter", "InvalidParameterValue"])
def test_a_refused_endpoint_filter_falls_back_to_every_page_of_the_service(
    aws: AwsClients, code: str
) -> None:
    ec2 = ProviderEc2(aws.ec2(), "us-east-1")
    by_service = {"Filters": [{"Name": "service-id", "Values": [SERVICE]}], "MaxResults": 1000}
    for stubber in stubbed(aws.ec2()):
        # Given: AWS refuses the vpc-endpoint-id filter, and the service's list has two pages
        stubber.add_client_error("describe_vpc_endpoint_connections", code, "no such filter")
        stubber.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [_connection("vpce-00000001")], "NextToken": "page-2"},
            by_service,
        )
        stubber.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [_connection("vpce-00000002")]},
            {**by_service, "NextToken": "page-2"},
        )
        # and a second re-read goes straight to the listing
        stubber.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [_connection("vpce-00000001")]},
            by_service,
        )

        # When
        first = ec2.connections(SERVICE, ["vpce-00000002", "vpce-00000009"])
        second = ec2.connections(SERVICE, ["vpce-00000001"])

    # Then: matched in code, on the last page too; the absent one is absent
    assert list(first) == ["vpce-00000002"]
    assert list(second) == ["vpce-00000001"]
    assert ec2.endpoint_filter_refused


def test_another_describe_error_is_not_taken_for_a_refused_filter(aws: AwsClients) -> None:
    ec2 = ProviderEc2(aws.ec2(), "us-east-1")
    for stubber in stubbed(aws.ec2()):
        stubber.add_client_error("describe_vpc_endpoint_connections", "UnauthorizedOperation")

        with pytest.raises(AwsError) as raised:
            ec2.connections(SERVICE, ["vpce-00000001"])

    assert raised.value.code == "UnauthorizedOperation"
    assert not ec2.endpoint_filter_refused


def test_more_services_than_a_filter_takes_are_read_in_chunks(aws: AwsClients) -> None:
    ec2 = ProviderEc2(aws.ec2(), "us-east-1")
    services = [f"vpce-svc-{n:017x}" for n in range(250)]
    for stubber in stubbed(aws.ec2()):
        for chunk in (services[:200], services[200:]):
            stubber.add_response(
                "describe_vpc_endpoint_connections",
                {"VpcEndpointConnections": []},
                {
                    "Filters": [
                        {"Name": "vpc-endpoint-id", "Values": ["vpce-00000001"]},
                        {"Name": "service-id", "Values": chunk},
                    ],
                    "MaxResults": 1000,
                },
            )

        assert ec2.find(["vpce-00000001"], services) == {}


def test_accept_reports_unsuccessful_items_by_endpoint(aws: AwsClients) -> None:
    ec2 = ProviderEc2(aws.ec2(), "us-east-1")
    for stubber in stubbed(aws.ec2()):
        stubber.add_response(
            "accept_vpc_endpoint_connections",
            {
                "Unsuccessful": [
                    {
                        "ResourceId": "vpce-00000002",
                        "Error": {"Code": "InvalidState", "Message": "deleted"},
                    }
                ]
            },
            {"ServiceId": SERVICE, "VpcEndpointIds": ["vpce-00000001", "vpce-00000002"]},
        )

        failures = ec2.act("accept", SERVICE, ["vpce-00000001", "vpce-00000002"])

    assert {e: f.code for e, f in failures.items()} == {"vpce-00000002": "InvalidState"}


def test_a_refused_accept_call_is_a_domain_error(aws: AwsClients) -> None:
    ec2 = ProviderEc2(aws.ec2(), "us-east-1")
    for stubber in stubbed(aws.ec2()):
        stubber.add_client_error(
            "reject_vpc_endpoint_connections", "UnauthorizedOperation", "not allowed"
        )

        with pytest.raises(AccessDenied):
            ec2.act("reject", SERVICE, ["vpce-00000001"])


# consumer facts


class RoleClients(AwsClients):
    """Clients whose assumed roles are prepared (or refused) by the test."""

    def __init__(self, roles: dict[str, AwsClients | ClientError]) -> None:
        super().__init__(clients().session)
        self.roles = roles
        self.assumed: list[tuple[str, str | None]] = []

    def assume_role(
        self,
        role_arn: str,
        *,
        session_name: str,
        external_id: str | None = None,
        now: datetime | None = None,
    ) -> AwsClients:
        self.assumed.append((role_arn, external_id))
        found = self.roles[role_arn]
        if isinstance(found, ClientError):
            raise found
        return found


def test_without_a_consumer_role_the_consumer_facts_are_unknown_and_say_why() -> None:
    reader = ConsumerReader(clients(), None, None)

    facts = reader.facts("111122223333", "us-east-1", ["vpce-00000001"])

    assert facts["vpce-00000001"].vpc_id is None
    assert facts["vpce-00000001"].reason == NO_CONSUMER_ROLE


def test_a_denied_consumer_role_leaves_facts_unknown_naming_the_role() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")
    arn = "arn:aws:iam::111122223333:role/Read"
    reader = ConsumerReader(RoleClients({arn: denied}), "Read", "external")

    facts = reader.facts("111122223333", "us-east-1", ["vpce-00000001", "vpce-00000002"])

    assert {f.reason for f in facts.values()} == {
        f"consumer role {arn} could not be assumed (AccessDenied)"
    }


def test_a_throttled_assume_role_raises_so_the_request_is_retried() -> None:
    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "AssumeRole")
    reader = ConsumerReader(
        RoleClients({"arn:aws:iam::111122223333:role/Read": throttled}), "Read", None
    )

    with pytest.raises(Throttled):
        reader.facts("111122223333", "us-east-1", ["vpce-00000001"])


def test_consumer_facts_come_from_one_describe_each_and_are_cached() -> None:
    consumer = clients()
    arn = "arn:aws:iam::111122223333:role/Read"
    roles = RoleClients({arn: consumer})
    reader = ConsumerReader(roles, "Read", "external")
    ec2 = consumer.ec2("us-west-2")
    for stubber in stubbed(ec2):
        stubber.add_client_error("describe_vpc_endpoints", "InvalidVpcEndpointId.NotFound", "gone")
        stubber.add_response(
            "describe_vpc_endpoints",
            {
                "VpcEndpoints": [
                    {
                        "VpcEndpointId": "vpce-00000001",
                        "VpcId": "vpc-0abc1234",
                        "Tags": [{"Key": "env", "Value": "prod"}],
                    }
                ]
            },
            {"VpcEndpointIds": ["vpce-00000001"]},
        )
        stubber.add_client_error(
            "describe_vpc_endpoints",
            "InvalidVpcEndpointId.NotFound",
            "gone",
            expected_params={"VpcEndpointIds": ["vpce-00000009"]},
        )
        stubber.add_response(
            "describe_vpcs",
            {
                "Vpcs": [
                    {
                        "VpcId": "vpc-0abc1234",
                        "CidrBlock": "10.10.0.0/16",
                        "CidrBlockAssociationSet": [
                            {"CidrBlock": "10.10.0.0/16", "CidrBlockState": {"State": "associated"}}
                        ],
                        "Ipv6CidrBlockAssociationSet": [
                            {
                                "Ipv6CidrBlock": "2600:1f18::/56",
                                "Ipv6CidrBlockState": {"State": "associated"},
                            }
                        ],
                        "Tags": [{"Key": "tier", "Value": "private"}],
                    }
                ]
            },
            {"VpcIds": ["vpc-0abc1234"]},
        )

        first = reader.facts("111122223333", "us-west-2", ["vpce-00000001", "vpce-00000009"])
        again = reader.facts("111122223333", "us-west-2", ["vpce-00000001"])

    found = first["vpce-00000001"]
    assert (found.vpc_id, dict(found.tags or {}), dict(found.vpc_tags or {})) == (
        "vpc-0abc1234",
        {"env": "prod"},
        {"tier": "private"},
    )
    assert found.vpc_cidrs == ("10.10.0.0/16", "2600:1f18::/56")
    assert first["vpce-00000009"].vpc_id is None
    assert "not visible" in first["vpce-00000009"].reason
    assert again["vpce-00000001"] == found
    assert roles.assumed == [(arn, "external")]


def test_vpc_cidrs_leave_out_blocks_being_removed() -> None:
    vpc = {
        "CidrBlockAssociationSet": [
            {"CidrBlock": "10.0.0.0/16", "CidrBlockState": {"State": "associated"}},
            {"CidrBlock": "10.1.0.0/16", "CidrBlockState": {"State": "disassociating"}},
        ]
    }

    assert vpc_cidrs(vpc) == ("10.0.0.0/16",)


def test_consumer_facts_are_read_again_once_their_time_to_live_has_passed() -> None:
    # Given a cache whose facts live 60 s, holding facts read at t=0
    now = [0.0]
    cache = FactsCache(ttl_seconds=60, clock=lambda: now[0])
    cache.put(("111122223333", "vpce-00000001"), "read at 0")

    # When 59 s and then 61 s have passed
    now[0] = 59.0
    fresh = cache.get(("111122223333", "vpce-00000001"))
    now[0] = 61.0
    stale = cache.get(("111122223333", "vpce-00000001"))

    # Then the facts are served, then gone
    assert (fresh, stale) == ("read at 0", None)


def test_consumer_facts_cache_keeps_at_most_its_size_dropping_the_least_recently_used() -> None:
    cache = FactsCache(max_entries=2)
    cache.put(("a", "1"), 1)
    cache.put(("a", "2"), 2)
    cache.get(("a", "1"))
    cache.put(("a", "3"), 3)

    assert (len(cache), cache.get(("a", "1")), cache.get(("a", "2")), cache.get(("a", "3"))) == (
        2,
        1,
        None,
        3,
    )


# organizations


def test_without_organizations_access_the_ou_path_is_unknown() -> None:
    assert OrganizationsReader(None).ou_path("111122223333").reason == NO_ORGANIZATIONS_ACCESS


def test_ou_path_runs_from_the_root_and_parents_are_asked_once(aws: AwsClients) -> None:
    reader = OrganizationsReader(aws)
    for stubber in stubbed(aws.organizations()):
        for child, parent, kind in (
            ("111122223333", "ou-ab12-22222222", "ORGANIZATIONAL_UNIT"),
            ("ou-ab12-22222222", "ou-ab12-11111111", "ORGANIZATIONAL_UNIT"),
            ("ou-ab12-11111111", "r-ab12", "ROOT"),
            ("222233334444", "ou-ab12-22222222", "ORGANIZATIONAL_UNIT"),
        ):
            stubber.add_response(
                "list_parents", {"Parents": [{"Id": parent, "Type": kind}]}, {"ChildId": child}
            )

        first = reader.ou_path("111122223333")
        second = reader.ou_path("222233334444")

    assert first.ou_path == ("r-ab12", "ou-ab12-11111111", "ou-ab12-22222222")
    assert second.ou_path == first.ou_path


def test_an_account_outside_the_organization_has_an_unknown_path_said_in_words(
    aws: AwsClients,
) -> None:
    reader = OrganizationsReader(aws)
    for stubber in stubbed(aws.organizations()):
        stubber.add_client_error("list_parents", "ChildNotFoundException", "not a member")

        found = reader.ou_path("777788889999")

    assert found.ou_path is None
    assert found.reason == "account 777788889999 is not a member of this organization"


def test_an_organizations_error_without_words_keeps_its_code(aws: AwsClients) -> None:
    reader = OrganizationsReader(aws)
    for stubber in stubbed(aws.organizations()):
        stubber.add_client_error("list_parents", "InvalidInputException", "bad input")

        found = reader.ou_path("777788889999")

    assert found.ou_path is None
    assert "(InvalidInputException)" in found.reason


# assumed roles


def _credentials(key: str) -> dict[str, Any]:
    return {
        "AccessKeyId": key,
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": NOW + timedelta(hours=1),
    }


def _access_key(assumed: AwsClients) -> str:
    credentials = assumed.session.get_credentials()
    assert credentials is not None
    return credentials.access_key


def test_assumed_role_credentials_are_reused_until_near_their_end_but_clients_are_new(
    aws: AwsClients,
) -> None:
    arn = "arn:aws:iam::111122223333:role/Read"
    for stubber in stubbed(aws.sts()):
        expected = {
            "RoleArn": arn,
            "RoleSessionName": "acceptor",
            "DurationSeconds": 3600,
            "ExternalId": "external",
        }
        for key in ("ASIAFIRST0000000", "ASIASECOND000000"):
            stubber.add_response("assume_role", {"Credentials": _credentials(key)}, expected)

        def assume(minutes: int) -> AwsClients:
            at = NOW + timedelta(minutes=minutes)
            return aws.assume_role(arn, session_name="acceptor", external_id="external", now=at)

        first, later, near_end = assume(0), assume(30), assume(55)

    assert later is not first
    assert [_access_key(a) for a in (first, later, near_end)] == [
        "ASIAFIRST0000000",
        "ASIAFIRST0000000",
        "ASIASECOND000000",
    ]


def test_assumed_role_credentials_are_bounded_least_recently_used_dropped(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given room for the credentials of two roles
    monkeypatch.setattr(clients_module, "MAX_ROLE_CREDENTIALS", 2)
    arns = [f"arn:aws:iam::11112222333{n}:role/Read" for n in range(3)]
    for stubber in stubbed(aws.sts()):
        for n in (0, 1, 2, 0):
            stubber.add_response("assume_role", {"Credentials": _credentials(f"ASIA{n:012d}")})

        # When three roles are assumed, then the first again
        keys = [
            _access_key(aws.assume_role(arns[n], session_name="acceptor", now=NOW))
            for n in (0, 1, 2, 0)
        ]

    # Then the first role's credentials had been dropped and were asked for again
    assert keys == [f"ASIA{n:012d}" for n in (0, 1, 2, 0)]


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_the_partition_of_a_region_comes_from_botocore(region: str, partition: str) -> None:
    assert clients_module.partition_of(region) == partition


def test_a_consumer_role_in_an_isolated_region_is_named_in_its_partition() -> None:
    # Given clients in us-iso-east-1 that record the role they are asked to assume
    roles = RoleClients({"arn:aws-iso:iam::111122223333:role/Read": clients()})
    roles._session = fake_session("us-iso-east-1")
    reader = ConsumerReader(roles, "Read", None)

    # When the consumer role is assumed
    reader.session("111122223333")

    # Then its ARN is in the aws-iso partition
    assert roles.assumed == [("arn:aws-iso:iam::111122223333:role/Read", None)]
