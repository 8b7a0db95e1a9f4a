"""`prune_snapshots`: keep the newest N snapshots etcdops wrote in a directory of the control
node."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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
        if pruned:
            return Outcome.changed("\n".join(pruned))
        else:
            return Outcome.ok(f"{len(found)} snapshots: none pruned")
