"""`snapshot_offsite`: copy the snapshot this run saved to an rclone remote, proven by reading it
back.

The snapshot goes first (and its bundle, when there is one); each is then read back from the
remote and its sha256 compared with the one recorded when it was saved; only then does its
metadata go up, last. A copy cut short (a killed run, a lost connection) therefore never has
metadata beside it, and neither `latest` nor `snapshots list` takes it for a finished snapshot.
The local metadata records the copy (where, when, the sha256 read back).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from etcdops import catalog, offsite, units
from etcdops.commands import Command, Live
from etcdops.errors import BadInput, StepFailed
from etcdops.snapshots import read_meta
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, heartbeat
from etcdops.steps.etcd_snapshot_save import this_runs_snapshot, write_meta
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class OffsiteSpec:
    dir: str = spec_field("the directory on the control node the run saved its snapshot in")
    prefix: str = spec_field("the snapshot's name prefix (NAME of NAME-revREV-STAMP.db)")
    to: str = spec_field("REMOTE:PATH of rclone's configuration")


@dataclass(frozen=True, kw_only=True)
class OffsiteAction(Action):
    dir: str
    prefix: str
    to: str
    put: Command
    read_back: Command


class SnapshotOffsiteKind(StepKind[OffsiteSpec, OffsiteAction]):
    name = "snapshot_offsite"
    summary = (
        "copy this run's snapshot (and bundle) to an rclone remote, read it back to check its "
        "sha256, then its metadata"
    )
    Spec = OffsiteSpec
    default_target = "control"
    default_timeout = 3600.0
    heartbeat = False  # its own notes

    def plan(self, spec: OffsiteSpec, ctx: StepContext) -> OffsiteAction:
        try:
            where = offsite.parse_remote(spec.to, "snapshot_offsite.to")
        except BadInput as exc:
            raise ctx.error(str(exc)) from None
        tool = offsite.rclone_binary()
        if not tool:
            raise ctx.error("snapshot_offsite: rclone is not installed on the control node")
        folder = spec.dir.rstrip("/")
        put = offsite.put(
            tool, Live("FILE", prefix=f"{folder}/"), Live("OBJECT", prefix=f"{where}/")
        )
        read_back = offsite.sha256_read(tool, Live("OBJECT", prefix=f"{where}/"))
        return OffsiteAction(
            intent=f"copy this run's snapshot in {folder} to {where} with rclone (and its bundle), "
            "read each back and compare its sha256 with the one recorded at save, then its "
            "metadata (last: an upload cut short has none, and is never taken for a snapshot)",
            commands=(put,),
            reads=(read_back,),
            dir=folder,
            prefix=spec.prefix,
            to=str(where),
            put=put,
            read_back=read_back,
        )

    def execute(self, action: OffsiteAction, ex: ExecContext) -> Outcome:
        entry = this_runs_snapshot(ex, str(action.dir), action.prefix)
        started = time.monotonic()
        bundle = entry.meta.get("bundle") if isinstance(entry.meta.get("bundle"), dict) else None
        uploads = [(entry.name, entry.sha256, entry.size)]
        if bundle is not None and entry.base + catalog.BUNDLE in entry.files:
            uploads.append((entry.base + catalog.BUNDLE, str(bundle.get("sha256", "")), 0))
        for name, sha, size in uploads:
            with heartbeat(ex.note, ex.timeout):
                self._upload(action, ex, name, sha, size)
        meta_path = Path(action.dir) / (entry.base + catalog.META)
        meta, problem = read_meta(entry.path)
        if problem or not meta:
            raise StepFailed(ex.step, ex.host, f"cannot read {meta_path}: {problem}")
        copies = [c for c in meta.get("copies", []) if isinstance(c, dict)]
        copies.append(
            {
                "to": f"{action.to.rstrip('/')}/{entry.name}",
                "sha256_read_back": entry.sha256,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        write_meta(meta_path, {**meta, "copies": copies})
        ex.run(action.put.fill(FILE=meta_path.name, OBJECT=meta_path.name))
        took = time.monotonic() - started
        return Outcome.changed(
            f"{action.to}/{entry.name}: sha256 {entry.sha256[:12]} read back from the remote "
            f"({units.size(entry.size)} in {took:.1f}s); metadata beside it",
            report={
                "to": f"{action.to}/{entry.name}",
                "bytes": entry.size,
                "sha256": entry.sha256,
                "seconds": round(took, 3),
                "bundle": len(uploads) > 1,
            },
        )

    @staticmethod
    def _upload(action: OffsiteAction, ex: ExecContext, name: str, sha: str, size: int) -> None:
        started = time.monotonic()
        ex.run(action.put.fill(FILE=name, OBJECT=name))
        sent = time.monotonic() - started
        there = offsite.parse_hashsum(ex.run(action.read_back.fill(OBJECT=name)).stdout)
        if not sha or there != sha:
            raise StepFailed(
                ex.step,
                ex.host,
                f"{action.to}/{name} read back with sha256 {there[:12] or 'none'}, recorded at "
                f"save {sha[:12] or 'none'}: the copy is not trusted and no metadata was written "
                "beside it (so it is never taken for a snapshot)",
            )
        if size:
            ex.note(
                f"{name}: sent {units.size(size)} in {sent:.1f}s, read back in "
                f"{time.monotonic() - started - sent:.1f}s: sha256 {sha[:12]} matches"
            )
