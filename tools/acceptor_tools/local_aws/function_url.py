"""A Lambda function URL on the local AWS: an HTTP endpoint that invokes a handler in-process
with the payload format 2.0 event Lambda would pass (docs/local-aws.md, "Function URLs").

`AWS_IAM` URLs check the request's SigV4 signature (service `lambda`) as Lambda does: the
access key must be one the local AWS issued (sts:AssumeRole), the signature is recomputed
with botocore's own signer from that key's secret, and the caller in
`requestContext.authorizer.iam` is the key's principal as moto knows it. A request that is
unsigned, signed with an unknown key or a wrong secret, or older than 5 minutes is answered
403, like Lambda, and the handler is not called. `NONE` URLs pass every request on.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from acceptor_tools.local_aws import moto_internals as moto

AuthType = Literal["AWS_IAM", "NONE"]
Handler = Callable[[dict[str, Any], Any], Any]
MAX_SKEW_SECONDS = 300
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class Caller:
    arn: str
    account: str
    user_id: str
    access_key: str


class Refused(Exception):
    pass


def verify_sigv4(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    now: datetime,
    lookup: Callable[[str], dict[str, str] | None] = moto.assumed_role_credentials,
) -> Caller:
    """The caller of a SigV4-signed request, or `Refused`."""
    lowered = {key.lower(): value for key, value in headers.items()}
    authorization = lowered.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise Refused("the request is not signed with SigV4")
    parts = dict(
        item.strip().split("=", 1) for item in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
    )
    try:
        access_key, _date, signed_region, service, _ = parts["Credential"].split("/")
        signed_headers = parts["SignedHeaders"].split(";")
        signature = parts["Signature"]
        stamp = lowered["x-amz-date"]
        signed_at = datetime.strptime(stamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except (KeyError, ValueError) as err:
        raise Refused(f"malformed SigV4 authorization: {err}") from None
    if (service, signed_region) != ("lambda", region):
        raise Refused(f"signed for {service} in {signed_region}, not lambda in {region}")
    if abs((now - signed_at).total_seconds()) > MAX_SKEW_SECONDS:
        raise Refused("the signature is more than 5 minutes old")
    issued = lookup(access_key)
    if issued is None:
        raise Refused(f"the local AWS issued no access key {access_key}")
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={name: lowered.get(name, "") for name in signed_headers},
    )
    request.context["timestamp"] = stamp
    signer = SigV4Auth(
        Credentials(access_key, issued["secret_access_key"], issued["session_token"]),
        "lambda",
        region,
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature):
        raise Refused("the signature does not match")
    return Caller(issued["arn"], issued["account"], issued["user_id"], access_key)


def url_event(
    request: Request, body: bytes, url_id: str, account: str, caller: Caller | None
) -> dict[str, Any]:
    """Payload format 2.0, as Lambda passes a function URL request."""
    content_type = request.headers.get("content-type", "")
    textual = content_type.startswith(TEXT_TYPES) or not body
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "accountId": account,
        "apiId": url_id,
        "domainName": request.host,
        "domainPrefix": url_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "127.0.0.1",
            "userAgent": request.headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if caller is not None:
        context["authorizer"] = {
            "iam": {
                "accessKey": caller.access_key,
                "accountId": caller.account,
                "callerId": caller.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": caller.arn,
                "userId": caller.user_id,
            }
        }
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": {key.lower(): value for key, value in request.headers.items()},
        "requestContext": context,
        "body": body.decode() if textual else base64.b64encode(body).decode(),
        "isBase64Encoded": not textual,
    }


class FunctionUrl:
    """A WSGI application serving one function URL."""

    def __init__(
        self,
        handler: Handler,
        auth_type: AuthType,
        *,
        account: str,
        region: str = "us-east-1",
        context: Callable[[], Any] = lambda: None,
    ) -> None:
        self.handler = handler
        self.auth_type = auth_type
        self.account = account
        self.region = region
        self.context = context
        self.url_id = uuid.uuid4().hex

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        caller = None
        if self.auth_type == "AWS_IAM":
            try:
                caller = verify_sigv4(
                    request.method,
                    request.url,
                    dict(request.headers.items()),
                    body,
                    self.region,
                    datetime.now(UTC),
                )
            except Refused as err:
                answer = Response(
                    json.dumps({"Message": f"Forbidden: {err}"}),
                    status=403,
                    content_type="application/json",
                )
                return answer(environ, start_response)
        event = url_event(request, body, self.url_id, self.account, caller)
        result = self.handler(event, self.context())
        return _response(result)(environ, start_response)


def _response(result: Any) -> Response:
    """Lambda's reading of a function URL handler's result."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return Response(data, status=int(result["statusCode"]), headers=result.get("headers") or {})


class FunctionUrlServer:
    """A function URL on 127.0.0.1 (port 0: any free port), served on a daemon thread."""

    def __init__(self, app: FunctionUrl, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=False)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="function-url", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> FunctionUrlServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


# Where `acceptor local-aws serve --app` serves the stack's function URLs, beside the local AWS
# on the same port (docs/local-aws.md, "With the application"): `PREFIX<FunctionLogicalId>/`, and at
# PREFIX itself a JSON document naming them (what `acceptor approve --local-port` reads).
PREFIX = "/_function-urls/"


class FunctionUrlRouter:
    """A WSGI application in front of the local AWS's: a request under `PREFIX` goes to the
    function URL it names (the rest of its path is the function's `rawPath`), `GET PREFIX` gets
    the document, anything else goes to the local AWS. Routes are mounted once the stack is
    deployed; `close()` answers 503 from then on, so nothing starts while the server stops."""

    def __init__(self) -> None:
        self.local_aws: Any = None
        self._routes: dict[str, FunctionUrl] = {}
        self._document: dict[str, Any] = {"function_urls": {}, "outputs": {}}
        self._closed = False

    def wrap(self, local_aws: Any) -> FunctionUrlRouter:
        """In front of `local_aws` (moto's WSGI application): `LocalAws(front=router.wrap)`."""
        self.local_aws = local_aws
        return self

    def mount(self, routes: Mapping[str, FunctionUrl], document: Mapping[str, Any]) -> None:
        self._routes = dict(routes)
        self._document = dict(document)

    def close(self) -> None:
        self._closed = True

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = str(environ.get("PATH_INFO") or "")
        if not (path + "/").startswith(PREFIX):
            return self.local_aws(environ, start_response)
        if self._closed:
            return _json(503, {"Message": "the local AWS is stopping"})(environ, start_response)
        name, _, rest = path[len(PREFIX) :].partition("/")
        if not name:
            if environ.get("REQUEST_METHOD") != "GET":
                return _json(405, {"Message": "GET only"})(environ, start_response)
            return _json(200, self._document)(environ, start_response)
        app = self._routes.get(name)
        if app is None:
            known = sorted(self._routes)
            return _json(404, {"Message": f"no function URL {name!r}; served: {known}"})(
                environ, start_response
            )
        # The function sees the path below its URL, as Lambda's rawPath; the signed URL (the
        # request's full URL) stays what werkzeug rebuilds from SCRIPT_NAME + PATH_INFO.
        inner = dict(environ)
        inner["SCRIPT_NAME"] = str(environ.get("SCRIPT_NAME") or "") + PREFIX + name
        inner["PATH_INFO"] = "/" + rest
        return app(inner, start_response)


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
