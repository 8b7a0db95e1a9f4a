"""`etcd_space`: every member's space before the run (the plan's figures) and now, and what the
run's defragmentation steps decided for it and on which figures: the table a compaction and
defragmentation run ends with, in its output and its report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etcdops import units
from etcdops.facts.model import EndpointStatus
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import DECIDED, endpoints_of, host_of_url, read_status, reads
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class SpaceSpec:
    message: str = spec_field("text printed above the table", "")


@dataclass(frozen=True, kw_only=True)
class SpaceAction(Action):
    etcd: EtcdConfig
    endpoints: tuple[str, ...]
    # (host, db size, in use) of every member when the run was planned; -1: no figures then
    before: tuple[tuple[str, int, int], ...]
    message: str


class EtcdSpaceKind(StepKind[SpaceSpec, SpaceAction]):
    name = "etcd_space"
    summary = "every member's space before the run and now, and what its defrag steps decided"
    Spec = SpaceSpec
    default_timeout = 30.0

    def plan(self, spec: SpaceSpec, ctx: StepContext) -> SpaceAction:
        endpoints = endpoints_of(ctx.inventory)
        before = []
        for url in endpoints:
            host = host_of_url(ctx.inventory, url)
            status = ctx.facts.status_of(host)
            before.append(
                (host, status.db_size, status.db_size_in_use) if status else (host, -1, -1)
            )
        return SpaceAction(
            intent="read every member's db size and space in use, and show them beside the "
            "plan's figures with what each member's defragmentation step decided",
            reads=reads(ctx.etcd),
            etcd=ctx.etcd,
            endpoints=tuple(endpoints),
            before=tuple(before),
            message=spec.message,
        )

    def execute(self, action: SpaceAction, ex: ExecContext) -> Outcome:
        now = {
            host_of_url(ex.inventory, s.endpoint): s
            for s in read_status(ex, action.etcd, list(action.endpoints))
        }
        rows = [row(ex, host, db, in_use, now.get(host)) for host, db, in_use in action.before]
        lines = [action.message.rstrip()] if action.message.strip() else []
        lines += table(rows)
        return Outcome.ok("\n".join(lines), report={"space": rows})


def row(
    ex: ExecContext, host: str, db: int, in_use: int, now: EndpointStatus | None
) -> dict[str, Any]:
    decided = ex.learned.get((host, DECIDED))
    return {
        "host": host,
        "role": "" if now is None else _role(now),
        "db_before": db if db >= 0 else None,
        "in_use_before": in_use if in_use >= 0 else None,
        "db_after": now.db_size if now else None,
        "in_use_after": now.db_size_in_use if now else None,
        "defragmented": decided["defragmented"] if isinstance(decided, dict) else None,
        "why": decided["reason"] if isinstance(decided, dict) else "not decided in this run",
    }


def _role(status: EndpointStatus) -> str:
    if status.is_leader:
        return "leader"
    return "learner" if status.is_learner else "follower"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as text: sizes before -> after, then the decision and what it was made on."""

    def size(value: int | None) -> str:
        return units.size(value) if value is not None else "?"

    lines = [
        f"{'HOST':<8} {'ROLE':<8} {'DB SIZE BEFORE -> AFTER':>25} "
        f"{'IN USE BEFORE -> AFTER':>25}  DEFRAGMENTED"
    ]
    for r in rows:
        if r["defragmented"] is None:
            decision = f"- ({r['why']})"
        else:
            decision = f"{'yes' if r['defragmented'] else 'no'}: {r['why']}"
        sizes = f"{size(r['db_before'])} -> {size(r['db_after'])}"
        in_use = f"{size(r['in_use_before'])} -> {size(r['in_use_after'])}"
        lines.append(f"{r['host']:<8} {r['role']:<8} {sizes:>25} {in_use:>25}  {decision}")
    return lines
