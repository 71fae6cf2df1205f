"""Renderings per channel type (acceptor.notify.render)."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from notify_samples import CONSUMER, ENDPOINT, SERVICE, decided

from acceptor.contract import DecidedDetail
from acceptor.notify.message import Message, decision_message
from acceptor.notify.render import (
    DRY_RUN_MARKER,
    RENDERERS,
    JsonPayload,
    TextPayload,
    render,
    slack,
    teams,
    text,
    webhook,
)
from acceptor.policy.model import Channel


def message(**overrides: Any) -> Message:
    return decision_message(
        DecidedDetail.model_validate(decided(**overrides)),
        provider_region="us-east-1",
        account_name="payments-prod",
    )


def test_every_channel_type_of_the_policy_has_a_renderer() -> None:
    (union, *_) = typing.get_args(Channel)
    types = {
        typing.get_args(model.model_fields["type"].annotation)[0]
        for model in typing.get_args(union)
    }

    assert types == set(RENDERERS)


def test_unknown_channel_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no renderer"):
        render("pager", message())


def test_slack_payload_is_block_kit_with_fields_and_console_button() -> None:
    body = slack(message()).body

    blocks = body["blocks"]
    assert body["text"].startswith(f"Accepted: {ENDPOINT}")
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["type"] == "plain_text"
    assert len(blocks[0]["text"]["text"]) <= 150
    sections = [b for b in blocks if b["type"] == "section" and "fields" in b]
    fields = [f["text"] for s in sections for f in s["fields"]]
    assert all(len(s["fields"]) <= 10 for s in sections)
    assert f"*Service*\n{SERVICE}" in fields
    assert f"*Consumer account*\n{CONSUMER} (payments-prod)" in fields
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert actions["elements"][0]["url"].startswith("https://us-east-1.console.aws.amazon.com/")
    assert DRY_RUN_MARKER not in json.dumps(body)


def test_slack_escapes_control_characters_of_mrkdwn() -> None:
    body = slack(message(reason="a <b> & c")).body

    rendered = json.dumps(body["blocks"])
    assert "a &lt;b&gt; &amp; c" in rendered
    assert "a <b> & c" not in rendered


def test_slack_dry_run_is_marked_in_a_context_block() -> None:
    body = slack(message(dry_run=True, action={"type": "accept", "result": "dry-run"})).body

    contexts = [b for b in body["blocks"] if b["type"] == "context"]
    assert any(DRY_RUN_MARKER in e["text"] for c in contexts for e in c["elements"])


def test_teams_payload_is_an_adaptive_card_in_the_workflows_message_envelope() -> None:
    body = teams(message(dry_run=True, action={"type": "accept", "result": "dry-run"})).body

    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    (facts,) = [b for b in card["body"] if b["type"] == "FactSet"]
    assert {"title": "Service", "value": SERVICE} in facts["facts"]
    assert any(b.get("text") == DRY_RUN_MARKER for b in card["body"])
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_text_payload_has_an_ascii_subject_and_labelled_lines() -> None:
    payload = text(message())

    assert isinstance(payload, TextPayload)
    assert payload.subject == f"Accepted: {ENDPOINT}"
    assert payload.subject.isascii()
    lines = payload.body.splitlines()
    assert lines[0].startswith("Accepted:")
    assert any(line.startswith("Service:") and line.endswith(SERVICE) for line in lines)
    assert any(line.startswith("Console: https://") for line in lines)
    assert payload.attributes["decision"] == "accept"
    assert payload.attributes["kind"] == "decision"


def test_generic_webhook_carries_the_event_detail_and_a_summary() -> None:
    payload = webhook(message())

    assert isinstance(payload, JsonPayload)
    body = payload.body
    assert body["detail-type"] == "Endpoint Connection Decided"
    assert body["detail"]["endpoint_id"] == ENDPOINT
    assert body["detail"]["security_groups"] == {"consumer_endpoint": {"ports": [443]}}
    assert body["summary"]["items"]["Rule"] == "payments-prod"
    assert body["summary"]["severity"] == "success"
    json.dumps(body)  # a webhook body must be plain JSON


HELD = {
    "decision": "hold",
    "rule": None,
    "action": {"type": "none", "result": "skipped", "error": None},
    "state_after": "pendingAcceptance",
    "security_groups": None,
}


def _slack_buttons(payload: Any) -> list[dict[str, Any]]:
    return [
        element
        for block in payload.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "action_id" in element
    ]


def test_held_request_on_a_slack_channel_with_a_signing_secret_carries_approve_and_reject() -> None:
    buttons = _slack_buttons(render("slack", message(**HELD), interactive=True))

    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("acceptor-approve", ENDPOINT),
        ("acceptor-reject", ENDPOINT),
    ]


@pytest.mark.parametrize(
    ("overrides", "interactive"),
    [
        (HELD, False),
        ({}, True),
        ({**HELD, "dry_run": True}, True),
        ({**HELD, "state_after": "available"}, True),
    ],
    ids=["no-signing-secret", "accepted", "dry-run", "no-longer-pending"],
)
def test_slack_message_without_a_pending_hold_or_a_signing_secret_has_no_decision_buttons(
    overrides: dict[str, Any], interactive: bool
) -> None:
    assert _slack_buttons(render("slack", message(**overrides), interactive=interactive)) == []


@pytest.mark.parametrize("channel_type", ["teams", "sns", "webhook"])
def test_teams_email_and_webhooks_stay_informational_even_for_a_held_request(
    channel_type: str,
) -> None:
    rendered = render(channel_type, message(**HELD), interactive=True)

    assert "acceptor-approve" not in json.dumps(getattr(rendered, "body", ""), default=str)


def test_a_decision_by_a_person_names_them_and_their_reason() -> None:
    approved = message(
        origin="approval",
        approved_by="arn:aws:sts::999988887777:assumed-role/NetworkAdmins/alice",
        approval_reason="contract PO-1182",
    )

    rendered = text(approved).body

    assert "assumed-role/NetworkAdmins/alice" in rendered
    assert "contract PO-1182" in rendered
    assert "a person's approval" in rendered
