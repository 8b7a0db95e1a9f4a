"""The runbook schema as frozen dataclasses. Validation lives in loader.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# defrag_rule: default, always, never or an expression over a member's space figures
# (facts/space.py)
PARAM_TYPES = ("str", "int", "bool", "host", "path", "choice", "defrag_rule")
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
    fails: str | None = None  # what was found when it fails, in words (message: what is wanted)
    warn: bool = False  # a failed check is a plan warning, not a refusal


@dataclass(frozen=True)
class Loop:
    """Steps repeated for each item of a list, in order: `- for_each: "{{ vars.list }}"`,
    `as: NAME`, and `steps:` (or `include: FILE`). Within them, vars.NAME is the item, and each
    var of `with:` as rendered for it."""

    each: str  # a template rendered at plan time to a list
    name: str
    group: int  # the steps of one loop share it (a runbook may have several loops)
    # `with: {NAME: TEMPLATE}`: vars of each item, rendered in order with the item known (from
    # vars and the item: a resumed run renders them again from its frozen vars)
    with_vars: tuple[tuple[str, str], ...] = ()


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
    # evaluated per host on live facts just before it runs; false = skipped
    only_if: str | None = None
    # or "skip": a host that cannot be reached is reported and passed over
    on_unreachable: str = "fail"
    # parallel: the others first, then the plan-time leader (not re-checked)
    leader_last: bool = False
    file: str = ""  # the file it is written in, when not the runbook's own (an `include:`)
    # run against the members' fenced client URLs (inventory.fenced()): a restored cluster that
    # etcdops reads and cleans before any client can reach it
    fenced: bool = False
    # where clients lose etcd (`stop`: when the step starts) and get it back (`back`: once the step
    # has finished): the plan predicts that window, the report measures it
    clients: str | None = None
    loop: Loop | None = None  # one of the steps a `for_each` repeats


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
    # etcd (a leased key) | files (lock files on every member: etcd is down) | none
    lock: str = "etcd"
    # lines added to the plan's impact header (impact.py), rendered at plan time; an empty one
    # is left out
    impact: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()  # files of steps included with `- include: FILE`, in order
    # params that --yes without a reviewed plan must give explicitly
    unattended_requires: tuple[str, ...] = ()
    # how a person confirms a run: yes, or by typing the inventory's name (a restore)
    confirm: str = "yes"
    # runs on a cluster whose data etcd found corrupt (its CORRUPT alarm): restore, recover
    runs_on_corrupt: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
