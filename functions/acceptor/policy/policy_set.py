"""A validated set of policy files: what the evaluator reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from acceptor.policy.index import CompiledPolicy
from acceptor.policy.model import Channel, PolicyFile

# Optional keys added after version 1 shipped (docs/policy.md, "limits" and "approval").
VERSION_1_ADDITIONS = ("limits", "approval")
# Channel keys added after version 1 shipped (docs/policy.md, "notifications").
CHANNEL_ADDITIONS = ("signing_secret",)


@dataclass(frozen=True)
class PolicyDocument:
    """One validated file, with the line of each rule for messages and explanations."""

    path: str
    model: PolicyFile
    rule_lines: Mapping[str, int] = field(default_factory=dict)

    def governs(self, service_id: str) -> bool:
        return self.model.governs(service_id)


@dataclass(frozen=True)
class PolicySet:
    documents: tuple[PolicyDocument, ...]
    version_hash: str
    compiled: CompiledPolicy = field(init=False, repr=False, compare=False)
    """The per-service lookup tables the evaluator reads (docs/architecture.md)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", CompiledPolicy(self.documents))

    @classmethod
    def from_documents(cls, documents: Iterable[PolicyDocument]) -> PolicySet:
        ordered = tuple(sorted(documents, key=lambda d: d.path))
        return cls(documents=ordered, version_hash=_hash(ordered))

    def governing(self, service_id: str) -> tuple[PolicyDocument, ...]:
        return tuple(d for d in self.documents if d.governs(service_id))

    @property
    def channels(self) -> dict[str, Channel]:
        return {name: ch for d in self.documents for name, ch in d.model.notifications.items()}


def _hash(documents: tuple[PolicyDocument, ...]) -> str:
    """Hash of what the policy means, not how it is written: comments and layout do not count."""
    digest = hashlib.sha256()
    for document in documents:
        # Keys added within version 1 count only when written: a file that does not use them
        # keeps the version it had (decision records and idempotency keys name it).
        unused = {key for key in VERSION_1_ADDITIONS if getattr(document.model, key) is None}
        content = document.model.model_dump(mode="json", exclude={"schema_ref", *unused})
        for channel in content.get("notifications", {}).values():
            for key in CHANNEL_ADDITIONS:
                if channel.get(key) is None:
                    channel.pop(key, None)
        digest.update(Path(document.path).name.encode())
        digest.update(json.dumps(content, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()[:16]
