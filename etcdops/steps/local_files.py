"""Files on the control node and temporary files on hosts: `prune_snapshots`, `remove_file`.

Only files: a directory is never removed by either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from etcdops.commands import sh
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field

SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9_.-]+-rev[0-9]+-[0-9]{8}T[0-9]{6}Z\.db$")


@dataclass(frozen=True)
class PruneSpec:
    dir: str = spec_field("the snapshot directory on the control node")
    keep: int = spec_field("keep the newest N snapshots", minimum=1)


@dataclass(frozen=True, kw_only=True)
class PruneAction(Action):
    dir: str
    keep: int


class PruneSnapshotsKind(StepKind[PruneSpec, PruneAction]):
    name = "prune_snapshots"
    summary = (
        "remove all but the newest N snapshots etcdops saved in a directory (with their metadata)"
    )
    Spec = PruneSpec
    default_target = "control"

    def plan(self, spec: PruneSpec, ctx: StepContext) -> PruneAction:
        return PruneAction(
            intent=f"keep the newest {spec.keep} snapshots in {spec.dir} (NAME-revREV-STAMP.db "
            "with their .json); remove older ones",
            dir=spec.dir,
            keep=spec.keep,
        )

    def execute(self, action: PruneAction, ex: ExecContext) -> Outcome:
        folder = Path(action.dir)
        found = sorted(
            (
                p
                for p in folder.glob("*.db")
                if SNAPSHOT_NAME.match(p.name) and p.is_file() and not p.is_symlink()
            ),
            key=lambda p: (p.stat().st_mtime, p.name),
            reverse=True,
        )
        pruned = []
        for old in found[action.keep :]:
            old.unlink()
            meta = old.with_suffix(".json")
            if meta.is_file() and not meta.is_symlink():
                meta.unlink()
            pruned.append(f"pruned {old}")
        return (
            Outcome.changed("\n".join(pruned))
            if pruned
            else Outcome.ok(f"{len(found)} snapshots: none pruned")
        )


@dataclass(frozen=True)
class RemoveSpec:
    path: str = spec_field("a regular file on the host (never a directory)")


@dataclass(frozen=True, kw_only=True)
class RemoveAction(Action):
    path: str


class RemoveFileKind(StepKind[RemoveSpec, RemoveAction]):
    name = "remove_file"
    summary = "remove a temporary regular file on the hosts (refuses anything else)"
    Spec = RemoveSpec
    shorthand = "path"

    def plan(self, spec: RemoveSpec, ctx: StepContext) -> RemoveAction:
        return RemoveAction(
            intent=f"remove the file {spec.path} (only if it is a regular file)",
            commands=(files.stat_command(spec.path), sh("rm", "-f", "--", spec.path)),
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
        ex.run(sh("rm", "-f", "--", action.path))
        return Outcome.changed(f"removed {action.path}")
