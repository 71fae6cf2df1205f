"""The daily digest's wiring in template.yaml: its schedule parameter, the rule SAM makes of
NotifyFunction's `HeldDigest` event (on by default, disabled by `off`), and the reads its role
gets only while it is on (docs/operations.md, "The digest's schedule")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sam_template import ACCOUNT, REGION, TEMPLATE, load

from acceptor_tools.replay.template import load_app

DIGEST_RULE = "NotifyFunctionHeldDigest"
# The managed services scan is the override alerts' too (ScanManagedServices), so unconditional.
DIGEST_READS = {"DigestReadsDecisionsByService"}


def digest_rule(**parameters: str) -> tuple[str | None, bool]:
    """The schedule and state of the digest's rule once SAM has transformed the template."""
    app = load_app(Path(TEMPLATE), account=ACCOUNT, region=REGION, parameter_overrides=parameters)
    (rule,) = [r for r in app.rules if r.logical_id == DIGEST_RULE]
    return rule.schedule, rule.enabled


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, ("cron(0 8 * * ? *)", True)),
        ({"HeldDigestSchedule": "cron(30 7 ? * MON-FRI *)"}, ("cron(30 7 ? * MON-FRI *)", True)),
        ({"HeldDigestSchedule": "off"}, ("cron(0 8 * * ? *)", False)),
    ],
)
def test_the_digest_runs_on_its_schedule_and_off_disables_it(
    parameters: dict[str, str], expected: tuple[str, bool]
) -> None:
    assert digest_rule(**parameters) == expected


def test_the_digest_reads_are_granted_only_while_the_digest_is_on() -> None:
    template: dict[str, Any] = load()
    conditional = {
        item["Fn::If"][1]["Sid"]: item["Fn::If"][0]
        for policy in template["Resources"]["NotifyFunction"]["Properties"]["Policies"]
        for item in policy.get("Statement", [])
        if isinstance(item, dict) and "Fn::If" in item
    }

    assert {sid: conditional.get(sid) for sid in DIGEST_READS} == dict.fromkeys(
        DIGEST_READS, "HeldDigestOn"
    )
    assert template["Conditions"]["HeldDigestOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "HeldDigestSchedule"}, "off"]}]
    }
