"""A fake AWS endpoint for the memory benchmark: real boto3 clients talk HTTP to it.

Not moto: a small stateless HTTP server (its own process, so that its memory is not counted)
answering the calls Decide makes (its managed-services scan included) with the shapes AWS
answers them with (EC2 and STS: query protocol, XML; EventBridge and DynamoDB: JSON), over
HTTPS. Every client reaches it through botocore's `AWS_ENDPOINT_URL` setting (and trusts its
certificate through `AWS_CA_BUNDLE`), so the code under measurement is unchanged.

The world is a pure function of the endpoint ID: `vpce-AAAAAA IIIIIIIIIII` (hex) is endpoint
number I of consumer account number A, to service number I mod SERVICES; every fourth account
tags its endpoints `env=sandbox`, the others `env=prod`.
"""

from __future__ import annotations

import json
import ssl
import sys
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

SERVICES = 10
FIRST_ACCOUNT = 100_000_000_000
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
CREATED = "2026-01-01T00:00:00.000Z"


def account_id(number: int) -> str:
    return f"{FIRST_ACCOUNT + number:012d}"


def endpoint_id(account_number: int, index: int) -> str:
    return f"vpce-{account_number:06x}{index:011x}"


def service_id(number: int) -> str:
    return f"vpce-svc-{number:017x}"


def service_of(endpoint: str) -> str:
    return service_id(int(endpoint[11:], 16) % SERVICES)


def account_of(endpoint: str) -> int:
    return int(endpoint[5:11], 16)


def vpc_of(account_number: int) -> str:
    return f"vpc-{account_number:017x}"


def environment(account_number: int) -> str:
    return "sandbox" if account_number % 4 == 0 else "prod"


def _members(form: dict[str, list[str]], prefix: str) -> list[str]:
    """`Prefix.1`, `Prefix.2`, ... of a query-protocol request, in order."""
    found = sorted(
        (int(key[len(prefix) + 1 :]), values[0])
        for key, values in form.items()
        if key.startswith(prefix + ".") and key[len(prefix) + 1 :].isdigit()
    )
    return [value for _, value in found]


def _filters(form: dict[str, list[str]]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    number = 1
    while f"Filter.{number}.Name" in form:
        filters[form[f"Filter.{number}.Name"][0]] = _members(form, f"Filter.{number}.Value")
        number += 1
    return filters


def _tags(tags: dict[str, str]) -> str:
    items = "".join(
        f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>" for k, v in tags.items()
    )
    return f"<tagSet>{items}</tagSet>"


def _ec2(action: str, body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{EC2_XMLNS}">'
        f"<requestId>00000000-0000-0000-0000-000000000000</requestId>{body}</{action}Response>"
    )


def describe_connections(form: dict[str, list[str]]) -> str:
    filters = _filters(form)
    services = set(filters.get("service-id", []))
    items = []
    for endpoint in filters.get("vpc-endpoint-id", []):
        service = service_of(endpoint)
        if services and service not in services:
            continue
        items.append(
            f"<item><serviceId>{service}</serviceId><vpcEndpointId>{endpoint}</vpcEndpointId>"
            f"<vpcEndpointOwner>{account_id(account_of(endpoint))}</vpcEndpointOwner>"
            f"<vpcEndpointState>pendingAcceptance</vpcEndpointState>"
            f"<creationTimestamp>{CREATED}</creationTimestamp></item>"
        )
    return _ec2(
        "DescribeVpcEndpointConnections",
        f"<vpcEndpointConnectionSet>{''.join(items)}</vpcEndpointConnectionSet>",
    )


def describe_endpoints(form: dict[str, list[str]]) -> str:
    items = []
    for endpoint in _members(form, "VpcEndpointId"):
        account = account_of(endpoint)
        items.append(
            f"<item><vpcEndpointId>{endpoint}</vpcEndpointId><vpcEndpointType>Interface"
            f"</vpcEndpointType><vpcId>{vpc_of(account)}</vpcId>"
            f"<serviceName>com.amazonaws.vpce.us-east-1.{service_of(endpoint)}</serviceName>"
            f"<state>pendingAcceptance</state>{_tags({'env': environment(account)})}</item>"
        )
    return _ec2("DescribeVpcEndpoints", f"<vpcEndpointSet>{''.join(items)}</vpcEndpointSet>")


def describe_vpcs(form: dict[str, list[str]]) -> str:
    items = []
    for vpc in _members(form, "VpcId"):
        number = int(vpc[4:], 16)
        cidr = f"10.{number // 256 % 256}.{number % 256}.0/24"
        items.append(
            f"<item><vpcId>{vpc}</vpcId><cidrBlock>{cidr}</cidrBlock><state>available</state>"
            f"<cidrBlockAssociationSet><item><associationId>vpc-cidr-assoc-{number:017x}"
            f"</associationId><cidrBlock>{cidr}</cidrBlock><cidrBlockState><state>associated"
            f"</state></cidrBlockState></item></cidrBlockAssociationSet>"
            f"{_tags({'team': 'payments'})}</item>"
        )
    return _ec2("DescribeVpcs", f"<vpcSet>{''.join(items)}</vpcSet>")


def describe_services(form: dict[str, list[str]]) -> str:
    """The provider's SERVICES services, every one tagged for the acceptor (one page)."""
    items = "".join(
        f"<item><serviceId>{service_id(n)}</serviceId>"
        f"<serviceName>com.amazonaws.vpce.us-east-1.{service_id(n)}</serviceName>"
        "<serviceState>Available</serviceState><acceptanceRequired>true</acceptanceRequired>"
        f"{_tags({'privatelink-acceptor:managed': 'true'})}</item>"
        for n in range(SERVICES)
    )
    return _ec2(
        "DescribeVpcEndpointServiceConfigurations",
        f"<serviceConfigurationSet>{items}</serviceConfigurationSet>",
    )


def act(action: str) -> str:
    return _ec2(action, "<unsuccessful/>")


def assume_role(form: dict[str, list[str]]) -> str:
    expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    arn = form.get("RoleArn", ["arn:aws:iam::000000000000:role/x"])[0]
    return (
        f'<AssumeRoleResponse xmlns="{STS_XMLNS}"><AssumeRoleResult><Credentials>'
        "<AccessKeyId>ASIAFAKEFAKEFAKEFAKE</AccessKeyId>"
        "<SecretAccessKey>fake/secret/access/key/fake/secret/access</SecretAccessKey>"
        f"<SessionToken>{'FwoGZXIvYXdzEfake' * 40}</SessionToken>"
        f"<Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser>"
        f"<AssumedRoleId>AROAFAKE:privatelink-acceptor</AssumedRoleId><Arn>{escape(arn)}</Arn>"
        "</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>"
        "00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )


QUERY_ACTIONS = {
    "DescribeVpcEndpointConnections": describe_connections,
    "DescribeVpcEndpoints": describe_endpoints,
    "DescribeVpcs": describe_vpcs,
    "DescribeVpcEndpointServiceConfigurations": describe_services,
    "AcceptVpcEndpointConnections": lambda form: act("AcceptVpcEndpointConnections"),
    "RejectVpcEndpointConnections": lambda form: act("RejectVpcEndpointConnections"),
    "AssumeRole": assume_role,
}


def json_answer(target: str, request: dict[str, Any]) -> dict[str, Any]:
    operation = target.rsplit(".", 1)[-1]
    if operation == "PutEvents":
        entries = request.get("Entries", [])
        return {
            "FailedEntryCount": 0,
            "Entries": [{"EventId": f"event-{n}"} for n in range(len(entries))],
        }
    if operation == "BatchWriteItem":
        return {"UnprocessedItems": {}}
    return {}  # PutItem, UpdateItem, DeleteItem, GetItem (no item)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        target = self.headers.get("X-Amz-Target")
        if target:
            answer = json.dumps(json_answer(target, json.loads(body or "{}")))
            self._send(answer, "application/x-amz-json-1.1")
            return
        form = parse_qs(body)
        action = form.get("Action", [""])[0]
        handler = QUERY_ACTIONS.get(action)
        if handler is None:
            error = "<Response><Errors><Error><Code>InvalidAction</Code></Error></Errors>"
            error += "</Response>"
            self._send(error, "text/xml", status=400)
            return
        self._send(handler(form), "text/xml")

    def _send(self, text: str, content_type: str, status: int = 200) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client closing its connection (each lookup closes its client) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


def main() -> None:
    """Serves HTTPS with the certificate and key named on the command line (as AWS does: the
    clients then set up TLS as they would in Lambda), or plain HTTP without them."""
    server = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
