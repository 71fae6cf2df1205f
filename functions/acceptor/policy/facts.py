"""What is known about one connection request: the facts a policy decides on.

Facts are three-valued through `None`: a fact that is `None` is *unknown* (we could not read it,
e.g. VPC and tags without the consumer role), which is not the same as known-empty (`{}`, no
tags). `unknown_reasons` says why a fact is unknown, so that a decision can name it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from acceptor.policy.model import ID_FORMS, AccountId, EndpointId, Region, ServiceId, VpcId

# The facts a condition can test, in the order a person reads them.
FACT_NAMES: tuple[str, ...] = (
    "account",
    "region",
    "endpoint_id",
    "vpc_id",
    "tags",
    "vpc_tags",
    "ou_path",
)
FactName = Literal["account", "region", "endpoint_id", "vpc_id", "tags", "vpc_tags", "ou_path"]

NOT_IN_FACTS_FILE = "not given in the facts file"
NO_REASON = "no reason recorded"


_MAPPING_FACTS = frozenset({"tags", "vpc_tags"})


@dataclass(frozen=True)
class Facts:
    """The facts of one request; `None` means unknown, never "no value"."""

    service_id: str
    endpoint_id: str | None = None
    account: str | None = None
    region: str | None = None
    vpc_id: str | None = None
    tags: Mapping[str, str] | None = None
    vpc_tags: Mapping[str, str] | None = None
    ou_path: tuple[str, ...] | None = None
    unknown_reasons: Mapping[str, str] = field(default_factory=dict)
    unknown: frozenset[str] = field(init=False, repr=False, compare=False)
    """Names of the facts that are unknown."""

    def __post_init__(self) -> None:
        # Copies behind read-only views: a caller mutating its dict must not change a decision
        # that was already made from these facts.
        if self.tags is not None:
            object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        if self.vpc_tags is not None:
            object.__setattr__(self, "vpc_tags", MappingProxyType(dict(self.vpc_tags)))
        if self.ou_path is not None:
            object.__setattr__(self, "ou_path", tuple(self.ou_path))
        strays = sorted(set(self.unknown_reasons) - set(FACT_NAMES))
        if strays:
            raise ValueError(f"unknown_reasons names facts that do not exist: {strays}")
        object.__setattr__(self, "unknown_reasons", MappingProxyType(dict(self.unknown_reasons)))
        # Worked out once: every evaluation of these facts starts from it.
        unknown = frozenset(name for name in FACT_NAMES if getattr(self, name) is None)
        object.__setattr__(self, "unknown", unknown)

    def why_unknown(self, fact: str) -> str:
        return self.unknown_reasons.get(fact, NO_REASON)

    @classmethod
    def from_mapping(cls, data: Any) -> Facts:
        """Read the facts-file format (docs/architecture.md, "Facts file"); raise `FactsError`
        naming every bad field."""
        if not isinstance(data, Mapping):
            raise FactsError([FactsProblem("(top level)", "a facts file is one JSON object")])
        try:
            parsed = _FactsFile.model_validate(data)
        except ValidationError as err:
            raise FactsError(_problems(err)) from err
        given = parsed.model_dump(exclude={"unknown_reasons"})
        reasons: dict[str, str] = {
            name: NOT_IN_FACTS_FILE for name in FACT_NAMES if given[name] is None
        }
        explained_known = sorted(set(parsed.unknown_reasons) - set(reasons))
        if explained_known:
            raise FactsError(
                [
                    FactsProblem(
                        f"unknown_reasons.{name}",
                        f"{name} is given, so it is not unknown; remove this reason or the fact",
                    )
                    for name in explained_known
                ]
            )
        for name, why in parsed.unknown_reasons.items():
            reasons[name] = why
        return cls(
            service_id=parsed.service_id,
            endpoint_id=parsed.endpoint_id,
            account=parsed.account,
            region=parsed.region,
            vpc_id=parsed.vpc_id,
            tags=parsed.tags,
            vpc_tags=parsed.vpc_tags,
            ou_path=None if parsed.ou_path is None else tuple(parsed.ou_path),
            unknown_reasons=reasons,
        )

    @classmethod
    def from_json(cls, text: str) -> Facts:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            problem = FactsProblem(f"line {err.lineno}", f"not valid JSON: {err.msg}")
            raise FactsError([problem]) from err
        return cls.from_mapping(data)

    def to_dict(self) -> dict[str, Any]:
        """The facts-file form: known facts only, reasons for the unknown ones."""
        data: dict[str, Any] = {"service_id": self.service_id}
        for name in FACT_NAMES:
            value = getattr(self, name)
            if value is None:
                continue
            # By name, not isinstance: every decision record pays for this.
            if name in _MAPPING_FACTS:
                value = dict(value)
            elif name == "ou_path":
                value = list(value)
            data[name] = value
        if self.unknown:
            reasons = {k: v for k, v in self.unknown_reasons.items() if k in self.unknown}
            if reasons:
                data["unknown_reasons"] = reasons
        return data


@dataclass(frozen=True)
class FactsProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class FactsError(ValueError):
    """A facts file that cannot be read; every problem names its field."""

    def __init__(self, problems: list[FactsProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


_ROOT = re.compile(r"^r-[0-9a-z]{4,32}$")
_OU = re.compile(ID_FORMS["ou"][0])


def _check_org_node(value: str) -> str:
    if not (_ROOT.fullmatch(value) or _OU.fullmatch(value)):
        raise ValueError(
            f"{value!r} is not an organization root (r-xxxx) or OU ID (ou-xxxx-xxxxxxxx)"
        )
    return value


OrgNodeId = Annotated[str, Field(strict=True), AfterValidator(_check_org_node)]
TagMap = dict[
    Annotated[str, Field(strict=True, min_length=1, max_length=128)],
    Annotated[str, Field(strict=True, max_length=256)],
]


class _FactsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service_id: ServiceId
    endpoint_id: EndpointId | None = None
    account: AccountId | None = None
    region: Region | None = None
    vpc_id: VpcId | None = None
    tags: TagMap | None = None
    vpc_tags: TagMap | None = None
    ou_path: list[OrgNodeId] | None = None
    unknown_reasons: dict[FactName, Annotated[str, Field(strict=True, min_length=1)]] = Field(
        default_factory=dict
    )


# The facts file's model, public for the files that embed a facts file (policy tests).
FactsFile = _FactsFile

_KNOWN_KEYS = ", ".join(("service_id", *FACT_NAMES, "unknown_reasons"))


def _problems(err: ValidationError) -> list[FactsProblem]:
    problems = []
    for item in err.errors(include_url=False):
        where = _field_path(item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown key; a facts file has only {_KNOWN_KEYS}"
        elif item["type"] == "missing":
            message = "required: the endpoint service ID the request is for"
        problems.append(FactsProblem(where, message))
    return problems


def _field_path(loc: tuple[int | str, ...]) -> str:
    """`ou_path[0]`, `tags.env`: the way a person points at a field of a JSON object."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (the key)"
        else:
            path += f".{part}" if path else part
    return path or "(top level)"
