"""`python -m acceptor_tools.demo` (`make demo-policy`): the policy engine alone, deciding
realistic requests (`make demo` shows the whole application on the local AWS). Each fact set in
`policies/examples/facts/` is decided by the shipped policies it names in `SCENARIOS`, with the
same code as `acceptor policy explain` (`decide_one`, the function Decide runs). Each scenario
also says which decision it is there to show; a different decision is reported and makes the
demo fail, so the demo doubles as a check that the examples still mean what the documentation
says they mean.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from acceptor.policy.errors import PolicyValidationError
from acceptor.policy.evaluate import Evaluation, Outcome
from acceptor.policy.facts import Facts, FactsError
from acceptor.policy.loader import load_policy
from acceptor_tools.explain_command import Explained, describe_facts, explain_facts, render_text

FACTS_FOLDER = Path("policies/examples/facts")
# The checkout this module runs from (an editable install), else the working directory.
_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Scenario:
    title: str
    facts: str
    """File name in FACTS_FOLDER."""
    policy: str
    """Policy file or folder, relative to the repository root."""
    shows: Outcome
    """The decision this scenario is there to show."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "An account on the allowlist",
        "allowed-account.json",
        "policies/examples/account-allowlist.yaml",
        "accept",
    ),
    Scenario(
        "A production endpoint from an OU the provider trusts",
        "trusted-ou-prod.json",
        "policies/examples/organizational-units-and-tags.yaml",
        "accept",
    ),
    Scenario(
        "An endpoint tagged as a sandbox",
        "sandbox-endpoint.json",
        "policies/examples/organizational-units-and-tags.yaml",
        "reject",
    ),
    Scenario(
        "Tags unknown: no consumer role in that account",
        "no-consumer-role.json",
        "policies/examples/organizational-units-and-tags.yaml",
        "hold",
    ),
    Scenario(
        "An account the policy does not know",
        "unknown-account.json",
        "policies/examples/account-allowlist.yaml",
        "hold",
    ),
    Scenario(
        "A registered endpoint of a SaaS customer",
        "registered-endpoint.json",
        "policies/examples/registered-endpoints.yaml",
        "accept",
    ),
    Scenario(
        "A request from a region the strict policy does not serve",
        "unserved-region.json",
        "policies/examples/strict-reject-by-default.yaml",
        "reject",
    ),
    Scenario(
        "A service that no policy file governs",
        "ungoverned-service.json",
        "policies/examples",
        "ignore",
    ),
    Scenario(
        "Any request under the starter policy",
        "allowed-account.json",
        "policies",
        "hold",
    ),
)


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    explained: Explained

    @property
    def facts(self) -> Facts:
        return self.explained.facts

    @property
    def evaluation(self) -> Evaluation:
        return self.explained.evaluation

    @property
    def decision(self) -> str:
        return self.explained.decision.decision


def decide(scenario: Scenario, root: Path) -> Result:
    facts_path = root / FACTS_FOLDER / scenario.facts
    data = json.loads(facts_path.read_text(encoding="utf-8"))
    # Paths as a person in the checkout would type them: the reasons name them.
    policy = load_policy([os.path.relpath(root / scenario.policy)])
    return Result(scenario, explain_facts(policy, data))


WIDTH = 100
LABEL = 15  # the width of explain's labels ("missing facts: ")


def render(number: int, result: Result) -> str:
    scenario = result.scenario
    heading = f"[{number}] {scenario.title}: {scenario.facts} against {scenario.policy}"
    text = f"{'facts:':<{LABEL}}{describe_facts(result.facts)}\n" + render_text(result.explained)
    lines = []
    for line in text.splitlines():
        if line.startswith(("facts:", "reason:")):
            # Long sentences wrap under their value; tables and IDs are never broken.
            line = textwrap.fill(
                line,
                width=WIDTH - 4,
                subsequent_indent=" " * LABEL,
                break_long_words=False,
                break_on_hyphens=False,
            )
        lines.append(line)
    return heading + "\n" + textwrap.indent("\n".join(lines), "    ")


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    del argv  # no options: the demo always plays every scenario
    if root is None:
        root = _CHECKOUT if (_CHECKOUT / FACTS_FOLDER).is_dir() else Path.cwd()
    print("PrivateLink Acceptor: the policy engine deciding example requests")
    print(
        "(`acceptor policy explain` on the shipped examples; `make demo` shows the whole"
        " application)\n"
    )
    surprises = 0
    for number, scenario in enumerate(SCENARIOS, start=1):
        try:
            result = decide(scenario, root)
        except PolicyValidationError as err:
            print(f"[{number}] {scenario.title}: the policy is invalid")
            print(textwrap.indent(str(err), "    "))
            surprises += 1
            continue
        except (FactsError, OSError, json.JSONDecodeError) as err:
            print(f"[{number}] {scenario.title}: cannot read {scenario.facts}: {err}")
            surprises += 1
            continue
        print(render(number, result))
        if result.decision != scenario.shows:
            print(
                f"    UNEXPECTED: this scenario is meant to show {scenario.shows}; "
                "the example policy or facts have drifted"
            )
            surprises += 1
        print()
    if surprises:
        print(f"{surprises} scenario(s) did not go as documented.")
        return 1
    print(f"{len(SCENARIOS)} scenarios decided as documented.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
