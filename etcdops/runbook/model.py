"""The runbook schema as frozen dataclasses. Validation lives in loader.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PARAM_TYPES = ("str", "int", "bool", "host", "path", "choice")
TARGETS = ("all", "members", "leader", "followers", "control")


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "str"
    default: Any = None
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()
    secret: bool = False
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Retry:
    attempts: int = 1
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 10.0
    on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """A pre-flight check: an expression over facts, a read-only command, or a typed probe of a
    host."""

    line: int
    message: str
    expr: str | None = None
    run: str | None = None
    on: str = "control"
    exit_code: int = 3
    probe: str | None = None  # a name in etcdops.preflight.PROBES, run on the host `on` names
    unless: str | None = None  # an expression: when true, the check is not made (passes)
    warn: bool = False  # a failed check is a plan warning, not a refusal


@dataclass(frozen=True)
class Step:
    name: str
    line: int
    kind: str
    spec: dict[str, Any] = field(repr=False)
    target: str = "all"
    parallel: bool = False
    timeout: float | str = 60.0  # seconds, or a template rendered at plan time
    retry: Retry = Retry()
    when: str | None = None
    requires: tuple[str, ...] = ()
    on_failure: str | None = None
    only_if: str | None = (
        None  # evaluated per host on live facts just before it runs; false = skipped
    )
    on_unreachable: str = (
        "fail"  # or "skip": a host that cannot be reached is reported and passed over
    )
    leader_last: bool = (
        False  # parallel: the others first, then the plan-time leader (not re-checked)
    )
    file: str = ""  # the file it is written in, when not the runbook's own (an `include:`)


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    file: str
    params: tuple[Param, ...]
    vars: tuple[tuple[str, str, int], ...]
    preflight: tuple[Check, ...]
    steps: tuple[Step, ...]
    on_failure: str | None = None
    on_success: str | None = None
    summary: str | None = None  # rendered at plan time, shown in the plan (e.g. a table of figures)
    lock: str = (
        "etcd"  # etcd (a leased key) | files (lock files on every member: etcd is down) | none
    )
    includes: tuple[str, ...] = ()  # files of steps included with `- include: FILE`, in order
    unattended_requires: tuple[
        str, ...
    ] = ()  # params that --yes without a reviewed plan must give explicitly

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
