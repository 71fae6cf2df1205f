"""Renderers: one `Message`, laid out the way each channel type expects it.

`RENDERERS` maps a channel type of the policy (`notifications.<name>.type`) to its renderer.
Slack gets Block Kit, Teams an Adaptive Card 1.4 in the envelope of the Workflows webhook,
SNS (e-mail) a subject and plain text, a generic webhook the event detail plus a summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from acceptor.notify.message import Message, Severity

PRODUCT = "privatelink-acceptor"
CONSOLE_BUTTON = "Open in the VPC console"
DRY_RUN_MARKER = "DRY RUN: nothing was changed"


@dataclass(frozen=True)
class JsonPayload:
    """A JSON document to POST to a webhook."""

    body: Mapping[str, Any]


@dataclass(frozen=True)
class TextPayload:
    """A subject and a plain-text body, for SNS and the e-mail subscriptions behind it."""

    subject: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)


Rendered = JsonPayload | TextPayload

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks).
_SLACK_HEADER_MAX = 150
_SLACK_TEXT_MAX = 3000
_SLACK_FIELD_MAX = 2000
_SLACK_FIELDS_PER_SECTION = 10

_SLACK_ICONS: dict[Severity, str] = {
    "success": ":white_check_mark:",
    "info": ":information_source:",
    "warning": ":warning:",
    "alert": ":rotating_light:",
}

# Adaptive Card text colours (adaptivecards.io, TextBlock.color).
_TEAMS_COLOURS: dict[Severity, str] = {
    "success": "Good",
    "info": "Accent",
    "warning": "Warning",
    "alert": "Attention",
}


# The buttons' action IDs are what the Slack interaction endpoint reads
# (acceptor/approval/slack.py, ACTIONS); their value is the endpoint ID.
APPROVE_BUTTON = ("acceptor-approve", "Approve", "primary")
REJECT_BUTTON = ("acceptor-reject", "Reject", "danger")


def slack(message: Message, *, interactive: bool = False) -> JsonPayload:
    """`interactive`: the channel has a signing secret, so a held request gets Approve and
    Reject buttons (docs/notifications.md)."""
    header = f"{_SLACK_ICONS[message.severity]} {message.title}"
    summary = _slack_escape(message.summary)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(header, _SLACK_HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(summary, _SLACK_TEXT_MAX)},
        },
    ]
    if message.dry_run:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{DRY_RUN_MARKER}*"}]}
        )
    fields = [
        {
            "type": "mrkdwn",
            "text": _cut(f"*{item.label}*\n{_slack_escape(item.value)}", _SLACK_FIELD_MAX),
        }
        for item in message.items
    ]
    for start in range(0, len(fields), _SLACK_FIELDS_PER_SECTION):
        blocks.append(
            {"type": "section", "fields": fields[start : start + _SLACK_FIELDS_PER_SECTION]}
        )
    buttons: list[dict[str, Any]] = []
    if interactive and message.approvable:
        buttons += [
            {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": label},
                "style": style,
                "value": message.approvable,
            }
            for action_id, label, style in (APPROVE_BUTTON, REJECT_BUTTON)
        ]
    if message.console_url:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": CONSOLE_BUTTON},
                "url": message.console_url,
            }
        )
    if buttons:
        blocks.append({"type": "actions", "block_id": "acceptor-decision", "elements": buttons})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{PRODUCT} · {message.detail_type}"}],
        }
    )
    # `text` is what notifications and screen readers show when blocks cannot be.
    return JsonPayload({"text": f"{message.title}: {message.summary}", "blocks": blocks})


def teams(message: Message) -> JsonPayload:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Medium",
            "color": _TEAMS_COLOURS[message.severity],
            "wrap": True,
        },
        {"type": "TextBlock", "text": message.summary, "wrap": True},
    ]
    if message.dry_run:
        body.append(
            {
                "type": "TextBlock",
                "text": DRY_RUN_MARKER,
                "weight": "Bolder",
                "color": "Warning",
                "wrap": True,
            }
        )
    body.append(
        {
            "type": "FactSet",
            "facts": [{"title": item.label, "value": item.value} for item in message.items],
        }
    )
    body.append(
        {
            "type": "TextBlock",
            "text": f"{PRODUCT} · {message.detail_type}",
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    if message.console_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": CONSOLE_BUTTON, "url": message.console_url}
        ]
    # The Teams Workflows "post to a channel when a webhook request is received" trigger
    # expects a message with the card as an attachment, not the bare card.
    return JsonPayload(
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
    )


def text(message: Message) -> TextPayload:
    width = max((len(item.label) for item in message.items), default=0) + 1
    lines = [message.title, "", message.summary, ""]
    if message.dry_run:
        lines += [DRY_RUN_MARKER, ""]
    lines += [f"{item.label + ':':<{width}} {item.value}" for item in message.items]
    if message.console_url:
        lines += ["", f"Console: {message.console_url}"]
    lines += ["", f"-- {PRODUCT} ({message.detail_type})"]
    attributes = {
        "kind": message.kind,
        "severity": message.severity,
        **{key: value for key, value in message.log_keys.items() if key != "correlation_id"},
    }
    return TextPayload(subject=message.short_title, body="\n".join(lines), attributes=attributes)


def webhook(message: Message) -> JsonPayload:
    return JsonPayload(
        {
            "source": PRODUCT,
            "kind": message.kind,
            "detail-type": message.detail_type,
            "summary": {
                "title": message.title,
                "text": message.summary,
                "severity": message.severity,
                "dry_run": message.dry_run,
                "console_url": message.console_url,
                "items": {item.label: item.value for item in message.items},
                "actions": list(message.actions),
            },
            "detail": dict(message.detail),
        }
    )


RENDERERS: dict[str, Callable[[Message], Rendered]] = {
    "slack": slack,
    "teams": teams,
    "sns": text,
    "webhook": webhook,
}


def render(channel_type: str, message: Message, *, interactive: bool = False) -> Rendered:
    """`interactive` applies to Slack only: Teams and e-mail stay informational."""
    try:
        renderer = RENDERERS[channel_type]
    except KeyError:
        raise ValueError(f"no renderer for channel type {channel_type!r}") from None
    if channel_type == "slack":
        return slack(message, interactive=interactive)
    return renderer(message)


def _slack_escape(value: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters (links, mentions)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
