"""`alarm_disarm`: disarm an alarm (NOSPACE) once every member is below a share of its quota."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command, etcdctl
from etcdops.errors import StepFailed
from etcdops.facts.parse import (
    parse_status_alarms,
)
from etcdops.facts.space import DEFAULT_QUOTA
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import (
    host_of_url,
    read_status,
    reads,
)
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class AlarmSpec:
    alarm: str = spec_field("the alarm to disarm", "NOSPACE")
    below: float = spec_field(
        "only if every member's db size is below this share of its quota", 0.9
    )


@dataclass(frozen=True, kw_only=True)
class AlarmAction(Action):
    etcd: EtcdConfig
    alarm: str
    below: float
    quotas: tuple[tuple[str, int], ...]  # (client URL, quota)


def disarm_command(etcd: EtcdConfig) -> Command:
    return etcdctl(etcd, "alarm", "disarm")


class AlarmDisarmKind(StepKind[AlarmSpec, AlarmAction]):
    name = "alarm_disarm"
    summary = "disarm an alarm (NOSPACE) once every member is below a share of its quota"
    Spec = AlarmSpec
    shorthand = "alarm"

    def plan(self, spec: AlarmSpec, ctx: StepContext) -> AlarmAction:
        etcd = ctx.etcd
        quotas = tuple(
            (h.etcd.client_url, h.etcd.quota_backend_bytes or DEFAULT_QUOTA)
            for h in ctx.inventory.members
            if h.etcd
        )
        return AlarmAction(
            intent=f"disarm {spec.alarm} if it is raised and every member is below "
            f"{spec.below:.0%} of its quota (else it stays armed and the step fails)",
            commands=(disarm_command(etcd),),
            reads=reads(etcd),
            etcd=etcd,
            alarm=spec.alarm,
            below=spec.below,
            quotas=quotas,
        )

    def execute(self, action: AlarmAction, ex: ExecContext) -> Outcome:
        statuses = read_status(ex, action.etcd, [u for u, _ in action.quotas])
        alarms = {a.alarm for s in statuses for a in parse_status_alarms(s.errors)}
        if action.alarm not in alarms:
            return Outcome.ok(f"no {action.alarm} alarm")
        quota = dict(action.quotas)
        full = [
            f"{host_of_url(ex.inventory, s.endpoint)} uses {units.size(s.db_size)} of "
            f"{units.size(quota[s.endpoint])}"
            for s in statuses
            if s.db_size >= action.below * quota.get(s.endpoint, DEFAULT_QUOTA)
        ]
        if full:
            raise StepFailed(
                ex.step,
                ex.host,
                f"{'; '.join(full)} ({action.below:.0%} or more): {action.alarm} stays armed",
            )
        ex.run(disarm_command(action.etcd))
        return Outcome.changed(f"{action.alarm} disarmed")
