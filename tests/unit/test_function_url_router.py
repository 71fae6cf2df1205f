"""The router of `acceptor local-aws serve --app`: the stack's function URLs under
`/_function-urls/`, beside the local AWS on the same port (docs/local-aws.md)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Response

from acceptor_tools.local_aws.function_url import PREFIX, FunctionUrl, FunctionUrlRouter

DOCUMENT = {"outputs": {"ApprovalUrl": "http://127.0.0.1:5000/_function-urls/Hook/"}}


def _local_aws(environ: dict[str, Any], start_response: Any) -> Any:
    return Response("local aws", status=200)(environ, start_response)


def _router() -> tuple[Client, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 201, "body": json.dumps({"path": event["rawPath"]})}

    router = FunctionUrlRouter().wrap(_local_aws)
    router.mount({"Hook": FunctionUrl(handler, "NONE", account="999988887777")}, DOCUMENT)
    return Client(router), seen


def test_a_request_under_a_function_url_reaches_its_function_with_the_path_below_it() -> None:
    client, seen = _router()

    answer = client.post(f"{PREFIX}Hook/slack/actions?x=1", data=b"{}")

    assert answer.status_code == 201
    assert json.loads(answer.get_data()) == {"path": "/slack/actions"}
    (event,) = seen
    assert (event["version"], event["rawQueryString"]) == ("2.0", "x=1")


def test_the_prefix_answers_the_document_and_other_paths_go_to_the_local_aws() -> None:
    client, seen = _router()

    assert client.get(PREFIX).get_json() == DOCUMENT
    assert client.get("/").get_data(as_text=True) == "local aws"
    assert client.post("/", data=b"Action=DescribeVpcs").get_data(as_text=True) == "local aws"
    assert seen == []


def test_an_unknown_function_is_404_and_nothing_is_called_after_close() -> None:
    client, seen = _router()
    unknown = client.post(f"{PREFIX}Nope/")
    router = client.application
    assert isinstance(router, FunctionUrlRouter)

    router.close()
    closed = client.post(f"{PREFIX}Hook/")

    assert unknown.status_code == 404
    assert "Hook" in unknown.get_json()["Message"]
    assert closed.status_code == 503
    assert seen == []
