"""The application a template describes, resolved: what the replay creates and runs.

Plain data, produced by `template.load_app`: names, ARNs, patterns and environments as a stack
of that template would have them in one account and region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    runtime: str
    timeout: int
    memory: int
    environment: Mapping[str, str]
    max_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    on_failure: str | None = None
    """ARN of the asynchronous on-failure destination (SQS or SNS)."""
    dead_letter: str | None = None
    """ARN of the function's DeadLetterConfig target (SQS or SNS)."""


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    url: str
    arn: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    name: str
    arn: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class BusSpec:
    logical_id: str
    name: str
    arn: str


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class TargetSpec:
    id: str
    arn: str
    input_transformer: Mapping[str, Any] | None = None

    @property
    def service(self) -> str:
        return self.arn.split(":")[2] if self.arn.startswith("arn:") else ""


@dataclass(frozen=True)
class RuleSpec:
    logical_id: str
    name: str
    bus: str
    pattern: Mapping[str, Any] | None
    schedule: str | None
    enabled: bool
    targets: tuple[TargetSpec, ...]


@dataclass(frozen=True)
class SubscriptionSpec:
    logical_id: str
    topic_arn: str
    protocol: str
    endpoint: str
    raw: bool = False
    filter_policy: Mapping[str, Any] | None = None
    filter_policy_scope: str | None = None


@dataclass(frozen=True)
class EventSourceSpec:
    """An SQS event source mapping: Lambda's poller between a queue and a function."""

    logical_id: str
    queue_arn: str
    function: str
    """Logical ID of the function."""
    batch_size: int
    batching_window: int
    report_failures: bool
    enabled: bool
    filters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ConnectionNotificationSpec:
    logical_id: str
    service_id: str
    topic_arn: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class App:
    """The application of one template, resolved for one stack in one account and region."""

    template_path: Path
    stack: str
    account: str
    region: str
    parameters: Mapping[str, Any]
    functions: Mapping[str, FunctionSpec]
    queues: Mapping[str, QueueSpec]
    topics: Mapping[str, TopicSpec]
    buses: Mapping[str, BusSpec]
    tables: Mapping[str, TableSpec]
    rules: tuple[RuleSpec, ...]
    subscriptions: tuple[SubscriptionSpec, ...]
    event_sources: tuple[EventSourceSpec, ...]
    connection_notifications: tuple[ConnectionNotificationSpec, ...]
    not_emulated: Mapping[str, str] = field(default_factory=dict)
    """Logical ID -> type of the resources the replay does not create (IAM, alarms...)."""
    function_urls: Mapping[str, str] = field(default_factory=dict)
    """Function logical ID -> its function URL's `AuthType` (`AWS_IAM` or `NONE`)."""
    url_outputs: Mapping[str, str] = field(default_factory=dict)
    """Output name -> logical ID of the function whose URL the output gives (`ApprovalUrl`)."""

    def function_for(self, name_or_arn: str) -> FunctionSpec | None:
        for function in self.functions.values():
            if name_or_arn in (function.name, function.arn, function.logical_id):
                return function
        return None

    def queue_for(self, arn_or_url: str) -> QueueSpec | None:
        for queue in self.queues.values():
            if arn_or_url in (queue.arn, queue.url):
                return queue
        return None

    def topic_for(self, arn: str) -> TopicSpec | None:
        return next((t for t in self.topics.values() if t.arn == arn), None)
