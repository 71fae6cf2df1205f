"""Which channels hear about an event (docs/policy.md, `notify` and `notifications`).

- A decision: the channels named in the Decided event's `notify` (the governing files'
  file-level channels and the deciding rule's), as Decide resolved them.
- A state change, or security-group work that needs a person: the file-level channels of the
  files that govern the service.
- A manual override: the same, and always the stack's notification topic, so that an alert
  reaches someone even when no file names a channel.

Channel definitions come from the loaded policy. A name the policy no longer defines (the policy
changed between the decision and now) is kept as a target without a channel: delivering to it
fails, loudly, instead of the name being dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from acceptor.policy.model import Channel, SnsChannel
from acceptor.policy.policy_set import PolicySet

STACK_TOPIC = "stack-topic"


@dataclass(frozen=True)
class Target:
    name: str
    channel: Channel | None


def for_decision(names: Iterable[str], policy: PolicySet) -> tuple[Target, ...]:
    return _targets(names, policy)


def for_service(service_id: str | None, policy: PolicySet) -> tuple[Target, ...]:
    """File-level channels of the files governing the service.

    When the service is not known (a connection AWS no longer shows), only the files that
    govern every service (`services: ["*"]`) are sure to have asked to hear about it.
    """
    documents = (
        policy.governing(service_id)
        if service_id
        else tuple(d for d in policy.documents if "*" in d.model.services)
    )
    names = [name for document in documents for name in document.model.notify]
    return _targets(names, policy)


def for_override(service_id: str | None, policy: PolicySet) -> tuple[Target, ...]:
    # An override whose service could not be read goes to the stack topic only: naming every
    # file's channels would page teams about services that are not theirs.
    targets = for_service(service_id, policy) if service_id else ()
    reaches_stack_topic = any(
        isinstance(t.channel, SnsChannel) and t.channel.topic_arn is None for t in targets
    )
    if reaches_stack_topic:
        return targets
    return (*targets, Target(STACK_TOPIC, SnsChannel(type="sns")))


def _targets(names: Iterable[str], policy: PolicySet) -> tuple[Target, ...]:
    defined = policy.channels
    unique = dict.fromkeys(names)
    return tuple(Target(name, defined.get(name)) for name in unique)
