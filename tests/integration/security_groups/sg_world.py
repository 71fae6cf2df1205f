"""The world SecurityGroupsFunction acts on, built on the local AWS (moto with the project's
PrivateLink extension, inside `mock_aws`): a provider account with an NLB (with a security group)
behind an endpoint service, and a consumer account with a VPC (IPv4 and IPv6) and an interface
endpoint with its own security group, whose connection the provider has accepted; the consumer
role of consumer-role.yaml is deployed by the tests that want it. Also the tables and the bus
the function writes to, with a queue that receives every event put on the bus.

moto accepts any AssumeRole; `TrustCheckingClients` makes the function's AssumeRole do what IAM
does: the role must exist in the target account and its trust policy must let this principal in
with this ExternalId. That is how "no consumer role" and "wrong ExternalId" are tested.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError
from cfnlint.decode import decode

from acceptor.aws.clients import AwsClients
from acceptor_tools.replay.intrinsics import Resolver
from integration.stack_tables import create_table

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
PROVIDER = "123456789012"  # moto's default account
CONSUMER = "111122223333"
REGION = "us-east-1"
EXTERNAL_ID = "acceptor-external-id-7f3a"
ROLE_NAME = "PrivateLinkAcceptorConsumer"
# Under the role path template.yaml gives SecurityGroupsFunction (the consumer roles trust it).
FUNCTION_ROLE = (
    f"arn:aws:iam::{PROVIDER}:role/privatelink-acceptor/privatelink-acceptor/security-groups/"
    "privatelink-acceptor-SecurityGroupsFunctionRole-X1Y2"
)
RULE_TABLE = "privatelink-acceptor-security-group-rules"
DECISION_TABLE = "privatelink-acceptor-decisions"
BUS = "privatelink-acceptor"
CONSUMER_V4 = "10.1.0.0/16"


@functools.cache
def _loader() -> botocore.loaders.Loader:
    """One loader for the test's sessions: botocore parses each service model once."""
    return botocore.loaders.create_loader()


def _session(region: str, **credentials: str) -> boto3.session.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return boto3.session.Session(region_name=region, botocore_session=core, **credentials)


def account_session(account: str, region: str = REGION) -> boto3.session.Session:
    """An administrator's session in `account` (moto maps assumed-role keys to the account)."""
    if account == PROVIDER:
        return _session(region)
    credentials = (
        _session(region)
        .client("sts")
        .assume_role(RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="sg-world")[
            "Credentials"
        ]
    )
    return _session(
        region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def render_consumer_role(account: str, **parameters: Any) -> dict[str, Any]:
    """consumer-role.yaml resolved as CloudFormation would for `account`: the read role's name,
    trust policy and inline policies, and the same for the write role under `write` (None when
    writes are not allowed)."""
    # cfn-lint's decoder, not samcli's yaml_parse, which changes PyYAML for the whole process.
    template, problems = decode(str(ROOT / "consumer-role.yaml"))
    assert not problems, problems
    assert template is not None
    values = {
        name: spec.get("Default")
        for name, spec in template["Parameters"].items()
        if "Default" in spec
    }
    values.update({"AcceptorAccountId": PROVIDER, "ExternalId": EXTERNAL_ID}, **parameters)
    resolver = Resolver(template, values, account=account, region=REGION, stack="consumer-role")
    rendered: dict[str, Any] = {"write": None}
    for logical_id in ("ConsumerRole", "ConsumerWriteRole"):
        if not resolver.exists(logical_id):
            continue
        role = resolver.resolve(template["Resources"][logical_id]["Properties"])
        policies = {p["PolicyName"]: p["PolicyDocument"] for p in role.get("Policies", [])}
        for policy_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::RolePolicy" or not resolver.exists(policy_id):
                continue
            if resource["Properties"]["RoleName"] == {"Ref": logical_id}:
                props = resolver.resolve(resource["Properties"])
                policies[props["PolicyName"]] = props["PolicyDocument"]
        found = {
            "name": role["RoleName"],
            "trust": role["AssumeRolePolicyDocument"],
            "policies": policies,
        }
        if logical_id == "ConsumerRole":
            rendered.update(found)
        else:
            rendered["write"] = found
    return rendered


def deploy_consumer_role(account: str, **parameters: Any) -> dict[str, Any]:
    rendered = render_consumer_role(account, **parameters)
    iam = account_session(account).client("iam")
    for role in [rendered, rendered["write"]]:
        if role is None:
            continue
        iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=json.dumps(role["trust"]))
        for name, document in role["policies"].items():
            iam.put_role_policy(
                RoleName=role["name"], PolicyName=name, PolicyDocument=json.dumps(document)
            )
    return rendered


def _allows(statement: Mapping[str, Any], principal_arn: str, external_id: str | None) -> bool:
    account = principal_arn.split(":")[4]
    principals = statement.get("Principal", {}).get("AWS", [])
    principals = [principals] if isinstance(principals, str) else principals
    if not any(p in (principal_arn, f"arn:aws:iam::{account}:root") for p in principals):
        return False
    context = {
        "sts:ExternalId": external_id,
        "aws:PrincipalAccount": account,
        "aws:PrincipalArn": principal_arn,
    }
    for operator, conditions in statement.get("Condition", {}).items():
        for key, wanted in conditions.items():
            wanted = [wanted] if isinstance(wanted, str) else wanted
            value = context.get(key)
            if value is None:
                return False
            if operator == "StringEquals" and value not in wanted:
                return False
            if operator == "ArnLike" and not any(fnmatch.fnmatchcase(value, w) for w in wanted):
                return False
            if operator not in ("StringEquals", "ArnLike"):
                return False  # an operator this check does not know never grants
    return True


@dataclass(frozen=True)
class Call:
    """One AWS call the function made: as whom, and the IAM action it needs."""

    caller: str
    """`provider` (the function's own role) or the consumer role's ARN."""
    action: str
    """`ec2:AuthorizeSecurityGroupIngress`, `elasticloadbalancing:DescribeLoadBalancers`..."""


class RecordingClients(AwsClients):
    """AwsClients whose clients record every call they make (`calls`), as `caller`."""

    def __init__(self, session: boto3.session.Session, *, caller: str, calls: list[Call]) -> None:
        super().__init__(session)
        self.caller = caller
        self.calls = calls

    def client(self, service: str, region: str | None = None) -> Any:
        built = super().client(service, region)
        if not getattr(built, "_sg_recorded", False):
            built.meta.events.register("before-parameter-build.*.*", self._record)
            built._sg_recorded = True
        return built

    def _record(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        prefix = model.service_model.endpoint_prefix
        self.calls.append(Call(self.caller, f"{prefix}:{model.name}"))
        if params.get("TagSpecifications"):
            # Tagging on create is authorized as ec2:CreateTags too.
            self.calls.append(Call(self.caller, f"{prefix}:CreateTags"))


class TrustCheckingClients(RecordingClients):
    def __init__(self, session: boto3.session.Session, *, principal_arn: str) -> None:
        super().__init__(session, caller="provider", calls=[])
        self.principal_arn = principal_arn
        self.assumed: list[str] = []

    def assume_role(
        self, role_arn: str, *, session_name: str, external_id: str | None = None
    ) -> AwsClients:
        account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
        try:
            trust = (
                account_session(account)
                .client("iam")
                .get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
            )
        except ClientError:
            trust = {"Statement": []}
        if isinstance(trust, str):
            trust = json.loads(trust)
        if not any(
            s.get("Effect") == "Allow" and _allows(s, self.principal_arn, external_id)
            for s in trust.get("Statement", [])
        ):
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDenied",
                        "Message": f"User: {self.principal_arn} is not authorized to perform: "
                        f"sts:AssumeRole on resource: {role_arn}",
                    }
                },
                "AssumeRole",
            )
        self.assumed.append(role_arn)
        assumed = super().assume_role(role_arn, session_name=session_name, external_id=external_id)
        return RecordingClients(assumed.session, caller=role_arn, calls=self.calls)


@dataclass
class SgWorld:
    provider_ec2: Any
    consumer_ec2: Any
    consumer_subnet: str
    service_id: str
    nlb_group: str
    endpoint_id: str
    endpoint_group: str
    consumer_vpc: str
    consumer_v6: str
    queue_url: str
    clients: TrustCheckingClients
    events: list[dict[str, Any]] = field(default_factory=list)

    def decided(self, name: str = "security-groups-decided-accept.json", **detail: Any) -> Any:
        """An event file with this world's IDs (and any detail fields given)."""
        event = json.loads((EVENTS / name).read_text())
        event["detail"].update(
            service_id=self.service_id,
            endpoint_id=self.endpoint_id,
            account=CONSUMER,
            region=REGION,
            vpc_id=self.consumer_vpc,
            vpc_cidrs=[CONSUMER_V4, self.consumer_v6],
        )
        if event["detail"].get("security_groups", {}) and "provider" in (
            event["detail"]["security_groups"] or {}
        ):
            event["detail"]["security_groups"]["provider"]["group"] = self.nlb_group
        event["detail"].update(detail)
        return event

    def end_connection(self, how: str) -> None:
        """The connection ends the AWS way: the provider rejects it, or the consumer deletes it."""
        if how == "rejected":
            self.provider_ec2.reject_vpc_endpoint_connections(
                ServiceId=self.service_id, VpcEndpointIds=[self.endpoint_id]
            )
        else:
            self.consumer_ec2.delete_vpc_endpoints(VpcEndpointIds=[self.endpoint_id])

    def state_changed(self, state: str) -> Any:
        name = f"security-groups-state-{state}.json"
        event = json.loads((EVENTS / name).read_text())
        event["detail"].update(
            service_id=self.service_id, endpoint_id=self.endpoint_id, account=CONSUMER
        )
        return event

    def ingress(self, ec2: Any, group_id: str) -> list[dict[str, Any]]:
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )["SecurityGroupRules"]
        return sorted(
            (r for r in rules if not r["IsEgress"]),
            key=lambda r: (r.get("FromPort", 0), r.get("CidrIpv4") or r.get("CidrIpv6", "")),
        )

    def bus_events(self, *, expect: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Events put on the bus so far (bounded wait until `expect` have arrived)."""
        sqs = boto3.client("sqs", region_name=REGION)
        deadline = time.monotonic() + timeout
        while len(self.events) < expect and time.monotonic() < deadline:
            for message in sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", []):
                self.events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return self.events


def build_world(principal_arn: str = FUNCTION_ROLE) -> SgWorld:
    provider = account_session(PROVIDER)
    consumer = account_session(CONSUMER)
    p_ec2, c_ec2 = provider.client("ec2"), consumer.client("ec2")

    p_vpc = p_ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    p_subnet = p_ec2.create_subnet(VpcId=p_vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    nlb_group = p_ec2.create_security_group(
        GroupName="nlb", Description="the service NLB", VpcId=p_vpc
    )["GroupId"]
    nlb = provider.client("elbv2").create_load_balancer(
        Name="service-nlb",
        Subnets=[p_subnet],
        Type="network",
        Scheme="internal",
        SecurityGroups=[nlb_group],
    )["LoadBalancers"][0]
    service = p_ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb["LoadBalancerArn"]], AcceptanceRequired=True
    )["ServiceConfiguration"]
    p_ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER}:root"]
    )

    vpc = c_ec2.create_vpc(CidrBlock=CONSUMER_V4, AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    # moto spells IPv6 blocks with leading zeros (2400:6500:0031:...); AWS and the function
    # use the canonical form.
    v6 = str(
        ipaddress.ip_network(
            c_ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0][
                "Ipv6CidrBlock"
            ]
        )
    )
    subnet = c_ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    endpoint_group = c_ec2.create_security_group(
        GroupName="endpoint", Description="the endpoint's own group", VpcId=vpc["VpcId"]
    )["GroupId"]
    endpoint = c_ec2.create_vpc_endpoint(
        VpcId=vpc["VpcId"],
        ServiceName=service["ServiceName"],
        VpcEndpointType="Interface",
        SubnetIds=[subnet],
        SecurityGroupIds=[endpoint_group],
    )["VpcEndpoint"]
    # As Decide would have done before the Decided event: the connection is accepted.
    accepted = p_ec2.accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    assert not accepted["Unsuccessful"], accepted["Unsuccessful"]

    dynamodb = provider.client("dynamodb")
    create_table(dynamodb, "security-group-rules", RULE_TABLE)
    create_table(dynamodb, "decisions", DECISION_TABLE)
    events, sqs = provider.client("events"), provider.client("sqs")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="bus-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name="everything", EventBusName=BUS, EventPattern=json.dumps({"source": [BUS]}))
    events.put_targets(Rule="everything", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])

    return SgWorld(
        provider_ec2=p_ec2,
        consumer_ec2=c_ec2,
        consumer_subnet=subnet,
        service_id=service["ServiceId"],
        nlb_group=nlb_group,
        endpoint_id=endpoint["VpcEndpointId"],
        endpoint_group=endpoint_group,
        consumer_vpc=vpc["VpcId"],
        consumer_v6=v6,
        queue_url=queue_url,
        clients=TrustCheckingClients(provider, principal_arn=principal_arn),
    )


Invoke = Callable[[Mapping[str, Any]], dict[str, Any]]
