"""`etcd_snapshot_verify`: a snapshot file on a host passes `snapshot status` (at a revision, if
given)."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command
from etcdops.errors import StepFailed
from etcdops.facts.parse import parse_snapshot_status
from etcdops.steps.base import (
    Action,
    ExecContext,
    Outcome,
    StepContext,
    StepKind,
)
from etcdops.steps.etcd_reads import snapshot_status_command
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class VerifySpec:
    path: str = spec_field("the snapshot file on the host")
    revision: int | None = spec_field("the revision it must have (none: any)", None)


@dataclass(frozen=True, kw_only=True)
class VerifyAction(Action):
    path: str
    revision: int | None
    status: Command


class EtcdSnapshotVerifyKind(StepKind[VerifySpec, VerifyAction]):
    name = "etcd_snapshot_verify"
    summary = "check a snapshot file on the hosts with `snapshot status` (its revision, if given)"
    Spec = VerifySpec
    shorthand = "path"
    default_timeout = 300.0

    def plan(self, spec: VerifySpec, ctx: StepContext) -> VerifyAction:
        status = snapshot_status_command(ctx.etcd, ctx.version(), spec.path)
        want = f" at revision {spec.revision}" if spec.revision is not None else ""
        return VerifyAction(
            intent=f"check that {spec.path} on {ctx.host} is a readable snapshot{want}",
            reads=(status,),
            path=spec.path,
            revision=spec.revision,
            status=status,
        )

    def execute(self, action: VerifyAction, ex: ExecContext) -> Outcome:
        status = parse_snapshot_status(ex.run(action.status).stdout)
        if action.revision is not None and status.revision != action.revision:
            raise StepFailed(
                ex.step,
                ex.host,
                f"{action.path} is at revision {status.revision}, not {action.revision}",
            )
        return Outcome.ok(
            f"revision {status.revision}, {status.total_keys} keys, {units.size(status.total_size)}"
        )
