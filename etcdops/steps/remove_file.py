"""`remove_file`: remove one file on a host (a snapshot copy left on a member)."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import Command, sh
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class RemoveSpec:
    path: str = spec_field("a regular file on the host (never a directory)")


@dataclass(frozen=True, kw_only=True)
class RemoveAction(Action):
    path: str


def remove_command(path: str) -> Command:
    return sh("rm", "-f", "--", path)


class RemoveFileKind(StepKind[RemoveSpec, RemoveAction]):
    name = "remove_file"
    summary = "remove a temporary regular file on the hosts (refuses anything else)"
    Spec = RemoveSpec
    shorthand = "path"

    def plan(self, spec: RemoveSpec, ctx: StepContext) -> RemoveAction:
        return RemoveAction(
            intent=f"remove the file {spec.path} (only if it is a regular file)",
            commands=(remove_command(spec.path),),
            reads=(files.stat_command(spec.path),),
            path=spec.path,
        )

    def execute(self, action: RemoveAction, ex: ExecContext) -> Outcome:
        state = files.stat(ex, action.path)[action.path]
        if not state.exists:
            return Outcome.ok(f"{action.path} is not there")
        if state.kind not in ("regular file", "regular empty file"):
            raise StepFailed(
                ex.step,
                ex.host,
                f"{action.path} is a {state.kind}, not a regular file: not removed",
            )
        ex.run(remove_command(action.path))
        return Outcome.changed(f"removed {action.path}")
