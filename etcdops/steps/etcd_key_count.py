"""`etcd_key_count`: check the number of keys at a revision, counted by etcd."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import Command
from etcdops.errors import StepFailed
from etcdops.facts.parse import parse_count
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import count_read
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class CountSpec:
    revision: int = spec_field("the revision to count at", minimum=1)
    expect: int = spec_field("the number of keys there must be", minimum=0)


@dataclass(frozen=True, kw_only=True)
class CountAction(Action):
    command: Command
    revision: int
    expect: int


class EtcdKeyCountKind(StepKind[CountSpec, CountAction]):
    name = "etcd_key_count"
    summary = "check the number of keys at a revision on each member"
    Spec = CountSpec

    def plan(self, spec: CountSpec, ctx: StepContext) -> CountAction:
        command = count_read(ctx.etcd).fill(REVISION=spec.revision)
        return CountAction(
            intent=f"check that {ctx.host} has {spec.expect} keys at revision {spec.revision}",
            reads=(command,),
            command=command,
            revision=spec.revision,
            expect=spec.expect,
        )

    def execute(self, action: CountAction, ex: ExecContext) -> Outcome:
        count = parse_count(ex.run(action.command).stdout)
        if count != action.expect:
            raise StepFailed(
                ex.step,
                ex.host,
                f"has {count} keys at revision {action.revision}, the snapshot has {action.expect}",
            )
        return Outcome.ok(f"{count} keys at revision {action.revision}")
