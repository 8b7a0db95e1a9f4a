"""`wait`: poll the cluster's facts until an expression holds, bounded by a timeout."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etcdops.errors import RunbookError, StepFailed
from etcdops.facts.model import ClusterFacts
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, until_next_poll
from etcdops.steps.spec import spec_field
from etcdops.templating import evaluate, render

MIN_INTERVAL = 0.2


@dataclass(frozen=True)
class WaitSpec:
    until: str = spec_field("an expression over fresh facts (`facts`), read at every poll")
    timeout: float = spec_field("seconds to wait at most", 120.0, minimum=0.1)
    interval: float = spec_field(
        "seconds from the start of one poll to the next", 1.0, minimum=MIN_INTERVAL
    )
    message: str = spec_field("what is waited for, in words", "")
    progress: str = spec_field("a template over the live facts shown while waiting", "")


@dataclass(frozen=True, kw_only=True)
class WaitAction(Action):
    until: str
    timeout: float
    interval: float
    message: str
    progress: str = ""

    def describe(self) -> list[str]:
        return [
            f"wait up to {self.timeout:g}s until {self.until}"
            + (f" ({self.message})" if self.message else "")
        ]


class WaitKind(StepKind[WaitSpec, WaitAction]):
    name = "wait"
    summary = "poll fresh facts until an expression holds (bounded, with progress)"
    Spec = WaitSpec
    shorthand = "until"
    default_target = "control"
    default_timeout = 120.0
    heartbeat = False

    def validate(self, raw: Any, file: str, line: int) -> dict[str, Any]:
        checked = super().validate(raw, file, line)
        interval = checked.get("interval", 1.0)
        if isinstance(interval, (int, float)) and interval < MIN_INTERVAL:
            raise RunbookError(file, line, f"wait.interval must be at least {MIN_INTERVAL}s")
        return checked

    def spec(self, raw: Mapping[str, Any], ctx: StepContext) -> WaitSpec:
        # until and progress are evaluated on live facts while waiting, not at plan time
        literal = {k: v for k, v in raw.items() if k not in ("until", "progress")}
        rendered: WaitSpec = super().spec({**literal, "until": "x"}, ctx)
        return WaitSpec(
            until=str(raw["until"]),
            timeout=rendered.timeout,
            interval=rendered.interval,
            message=rendered.message,
            progress=str(raw.get("progress", "")),
        )

    def plan(self, spec: WaitSpec, ctx: StepContext) -> WaitAction:
        return WaitAction(
            intent=f"wait until {spec.until}",
            until=spec.until,
            timeout=spec.timeout,
            interval=spec.interval,
            message=spec.message,
            progress=spec.progress,
        )

    def execute(self, action: WaitAction, ex: ExecContext) -> Outcome:
        start = time.monotonic()
        deadline = start + action.timeout
        for _poll in range(int(action.timeout / action.interval) + 2):  # bounded in count and time
            began = time.monotonic()
            facts = ex.read_facts()
            context = {**ex.variables, "facts": facts}
            if evaluate(action.until, context, where=ex.file):
                return Outcome.ok(f"after {time.monotonic() - start:.1f}s{read_through(facts)}")
            if action.progress:
                state = render(action.progress, context, shell=False, where=ex.file)
            else:
                state = summary(facts)
            ex.waiting(time.monotonic() - start, action.timeout, state)
            pause = until_next_poll(began, action.interval)
            if time.monotonic() + pause > deadline:
                break
            ex.sleep(pause)
        raise StepFailed(
            ex.step,
            None,
            f"timed out after {action.timeout:g}s waiting until {action.until} "
            f"(last seen: {state})",
        )


def read_through(facts: ClusterFacts) -> str:
    """How the last poll read etcd, when one member host read it for others (facts/through.py)."""
    via = sorted({hf.through for hf in facts.hosts.values() if hf.through})
    if not via:
        return ""
    hosts = member_hosts(facts)
    count = sum(1 for h in hosts if facts.hosts[h].through)
    return f" (etcd of {count} of {len(hosts)} members read through {', '.join(via)}{_left(facts)})"


def summary(facts: ClusterFacts) -> str:
    hosts = member_hosts(facts)
    healthy = sum(1 for h in hosts if facts.hosts[h].healthy)
    return f"{healthy}/{len(hosts)} healthy, leader {facts.leader_host or 'none'}{_left(facts)}"


def member_hosts(facts: ClusterFacts) -> list[str]:
    """The hosts read that are members of the cluster now: a host of the etcd group whose member
    was removed (scale-in, before the inventory changes) is not counted among the members; all
    of them when no member list was read."""
    mapped = set(facts.member_hosts.values())
    return [h for h in facts.hosts if h in mapped] if facts.members else list(facts.hosts)


def _left(facts: ClusterFacts) -> str:
    gone = [h for h in facts.hosts if h not in member_hosts(facts)]
    return f"; {', '.join(gone)}: not a member" if gone else ""
