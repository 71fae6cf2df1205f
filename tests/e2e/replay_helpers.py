"""Constants and builders shared by the replay's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from acceptor_tools.replay.app import App
from acceptor_tools.replay.local import ReplayConfig
from acceptor_tools.replay.template import load_app
from helpers.aws import FAKE_CREDENTIALS

MINI = Path(__file__).parent / "fixtures" / "mini" / "template.yaml"
REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE = REPOSITORY / "template.yaml"
WORLD = REPOSITORY / "events" / "world.yaml"
EVENTS = REPOSITORY / "events"
DEMO_POLICY = REPOSITORY / "tools" / "acceptor_tools" / "replay" / "demo" / "policy.yaml"
ACCOUNT = "123456789012"  # moto's account for credentials it did not issue
REGION = "us-east-1"


class MotoAccount:
    """The default moto account: what the fixture application is deployed in."""

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def env(self) -> dict[str, str]:
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }


def mini_app(template: Path = MINI, **overrides: Any) -> App:
    return load_app(template, account=ACCOUNT, region=REGION, stack="mini", **overrides)


def sns_event(message: Any) -> dict[str, Any]:
    """A Lambda SNS event as a person would capture it (the topic ARN of another account)."""
    body = message if isinstance(message, str) else json.dumps(message)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:eu-west-1:210987654321:inbox:1",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": "arn:aws:sns:eu-west-1:210987654321:inbox",
                    "Subject": None,
                    "Message": body,
                    "Timestamp": "2024-06-11T12:00:00.000Z",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def acceptor_config(outbox: Path, **changes: Any) -> ReplayConfig:
    """The acceptor's own template on the demo world, with the demo policy."""
    settings: dict[str, Any] = {
        "template": TEMPLATE,
        "world": WORLD,
        "policy": DEMO_POLICY,
        "outbox": outbox,
    }
    settings.update(changes)
    return ReplayConfig(**settings)
