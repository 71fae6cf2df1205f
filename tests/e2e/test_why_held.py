"""docs/deploy.md, "Why is a request held?": the documented query of the decision table, run on
the stack the replay deploys, answers with the decision, its reason and the unknown facts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jmespath
import pytest
from replay_helpers import REPOSITORY, acceptor_config

from acceptor_tools.replay.local import local_replay

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.disable_socket]

DEPLOY_DOC = REPOSITORY / "docs" / "deploy.md"
PARTNER_ENDPOINT = "vpce-0e5f6a7b8c9d01234"  # the demo world's held request


def _option(command: str, name: str) -> str:
    """The single-quoted value of `--name` in the documented command (line breaks joined)."""
    match = re.search(rf"--{name}\s+(?:\\\s+)?'([^']*)'", command)
    assert match is not None, f"docs/deploy.md: no --{name} '...' in the query"
    return match.group(1)


def _documented_query() -> str:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    start = text.index("aws dynamodb query")
    return text[start : text.index("```", start)]


def test_the_documented_query_names_why_the_partner_request_is_held(tmp_path: Path) -> None:
    # Given the documented command's expressions
    command = _documented_query()
    values = json.loads(_option(command, "expression-attribute-values"))
    assert values[":endpoint"] == {"S": PARTNER_ENDPOINT}

    # When the demo world's requests have been decided and the decision table is queried so
    with local_replay(acceptor_config(tmp_path / "outbox")) as replay:
        replay.aws.create_endpoints()
        replay.session.run(replay.config.limits)
        table = replay.session.app.tables["DecisionTable"].name
        response = replay.aws.client("dynamodb").query(
            TableName=table,
            KeyConditionExpression=_option(command, "key-condition-expression"),
            FilterExpression=_option(command, "filter-expression"),
            ExpressionAttributeNames=json.loads(_option(command, "expression-attribute-names")),
            ExpressionAttributeValues=values,
            ScanIndexForward="--no-scan-index-forward" not in command,
        )

    # Then the newest decision says hold, and why, in words
    answer = jmespath.search(_option(command, "query"), response)
    assert answer["decision"] == "hold"
    assert answer["rule"] is None
    assert "cannot be confirmed because ou_path is unknown" in answer["reason"]
    assert answer["unknown"] == {
        "ou_path": {"S": "account 777788889999 is not a member of this organization"}
    }
