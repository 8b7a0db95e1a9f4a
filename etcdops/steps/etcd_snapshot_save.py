"""`etcd_snapshot_save`: save a snapshot on a member, verify it there and copy it to the control
node with its metadata."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from etcdops import catalog, units
from etcdops.commands import Command, Raw, etcdctl, sh
from etcdops.durable import durable
from etcdops.errors import StepFailed
from etcdops.facts.parse import SnapshotStatus, parse_count, parse_snapshot_status
from etcdops.steps.base import (
    Action,
    ExecContext,
    Outcome,
    StepContext,
    StepKind,
    Write,
    heartbeat,
)
from etcdops.steps.copying import download, download_reads
from etcdops.steps.etcd_reads import count_read, snapshot_status_command
from etcdops.steps.spec import spec_field
from etcdops.transport.local import CONTROL

SNAPSHOT_TIMEOUT = 600  # s etcdctl snapshot save may take


@dataclass(frozen=True)
class SaveSpec:
    dest: str = spec_field("the directory on the control node")
    name: str = spec_field("the file name before the revision: NAME-revREV-STAMP.db", "etcd")


@dataclass(frozen=True, kw_only=True)
class SaveAction(Action):
    remote: str
    dest: str
    name: str
    save: Command
    finish: Command  # the .part renamed once etcdctl says it is complete
    status: Command
    count: Command  # its revision filled in once snapshot status has read it
    remove: Command  # the member's copy, once the control node has it
    meta: dict[str, str]


class EtcdSnapshotSaveKind(StepKind[SaveSpec, SaveAction]):
    name = "etcd_snapshot_save"
    summary = (
        "save a snapshot on a member, verify it, copy it to the control node with its metadata"
    )
    Spec = SaveSpec
    default_timeout = 1800.0
    heartbeat = False  # its phases say how far it got

    def plan(self, spec: SaveSpec, ctx: StepContext) -> SaveAction:
        etcd, version = ctx.etcd, ctx.version()
        remote = f"{os.path.dirname(etcd.data_dir.rstrip('/'))}/etcdops-snapshot-{ctx.run.stamp}.db"
        save = etcdctl(
            etcd, "snapshot", "save", remote + ".part", command_timeout=f"{SNAPSHOT_TIMEOUT}s"
        )
        status_cmd = snapshot_status_command(etcd, version, remote)
        finish = sh("mv", "-f", "--", remote + ".part", remote)
        count = count_read(etcd)
        remove = sh("rm", "-f", "--", remote, Raw("2>/dev/null; true"))
        facts = ctx.facts
        meta = {
            "written_by": "etcdops",  # what pruning tells its own snapshots by (catalog.py)
            "cluster_id": f"{facts.cluster_id:x}" if facts.cluster_id else "",
            "members": ctx.inventory.initial_cluster(),
            "etcd_version": facts.version or "",
            "time": ctx.run.time,
            "source": ctx.host,
        }
        dest = f"{spec.dest}/{spec.name}-rev<REV>-{ctx.run.stamp}.db"
        status = ctx.facts.status_of(ctx.host)
        size = status.db_size if status else 0
        return SaveAction(
            intent=f"save a snapshot on {ctx.host}, then copy it to {dest} (sha256 computed on "
            "both ends as it streams) while it is verified there (snapshot status, its key "
            "count); its metadata beside it; the member's copy removed",
            commands=(save, finish, remove),
            reads=(status_cmd, count, *download_reads(remote)),
            remote=remote,
            dest=spec.dest,
            name=spec.name,
            save=save,
            finish=finish,
            status=status_cmd,
            count=count,
            remove=remove,
            meta=meta,
            writes=(
                Write(ctx.host, remote, size, "the snapshot, until it is copied"),
                Write(CONTROL, spec.dest, size, "the snapshot"),
            ),
            work=size,
        )

    def execute(self, action: SaveAction, ex: ExecContext) -> Outcome:
        remote = action.remote
        started = time.monotonic()
        with heartbeat(ex.note, ex.timeout):
            ex.run(action.save)
        saved = time.monotonic() - started
        ex.run(action.finish)
        dest = Path(action.dest)
        hidden = dest / f".{action.name}-{ex.info.stamp}.db"  # named by its revision once read
        # the check on the host (snapshot status, the key count at its revision) runs while the copy
        # streams to the control node, hashed on both ends as it goes
        with ThreadPoolExecutor(max_workers=1) as pool:
            checked = pool.submit(self._timed_check, action, ex)
            copied = download(ex, remote, str(hidden))
            status, keys, check_seconds = checked.result()
        sha = str((copied.report or {}).get("sha256", ""))
        base = f"{action.name}-rev{status.revision}-{ex.info.stamp}"
        synced = time.monotonic()
        # a backup is named complete only once its bytes are on the control node's disk
        durable(hidden)
        synced = time.monotonic() - synced
        if synced >= 1:
            ex.note(f"written to the control node's disk (fsync) in {synced:.1f}s")
        write_meta(
            dest / f"{base}.json",
            {
                **action.meta,
                "name": f"{base}.db",
                "size": hidden.stat().st_size,
                "revision": status.revision,
                "keys": keys,
                "sha256": sha,
                "status": _status_dict(status),
            },
        )
        hidden.rename(dest / f"{base}.db")
        durable(dest)  # and the names too
        ex.run(action.remove)
        return Outcome.changed(
            f"snapshot {dest / (base + '.db')} (revision {status.revision}, {keys} keys, "
            f"sha256 {sha[:12]}; {copied.detail.split('(')[-1].rstrip(')')})",
            report={
                "snapshot": str(dest / (base + ".db")),
                "revision": status.revision,
                "keys": keys,
                "bytes": status.total_size,
                "save_seconds": round(saved, 3),
                "check_seconds": round(check_seconds, 3),
                "sync_seconds": round(synced, 3),
                "copy_seconds": (copied.report or {}).get("seconds"),
            },
        )

    @classmethod
    def _timed_check(cls, action: SaveAction, ex: ExecContext) -> tuple[SnapshotStatus, int, float]:
        started = time.monotonic()
        status, keys = cls._check(action, ex)
        return status, keys, time.monotonic() - started

    @staticmethod
    def _check(action: SaveAction, ex: ExecContext) -> tuple[SnapshotStatus, int]:
        status = parse_snapshot_status(ex.run(action.status).stdout)
        keys = parse_count(ex.run(action.count.fill(REVISION=status.revision)).stdout)
        ex.note(
            f"verified on the host: revision {status.revision}, {keys} keys, "
            f"{units.size(status.total_size)}"
        )
        return status, keys


def _status_dict(status: SnapshotStatus) -> dict[str, int]:
    return {
        "hash": status.hash,
        "revision": status.revision,
        "totalKey": status.total_keys,
        "totalSize": status.total_size,
    }


def this_runs_snapshot(ex: ExecContext, folder: str, prefix: str) -> catalog.Entry:
    """The finished snapshot this run saved in folder (for the steps after the save: bundle,
    off-site copy); the step fails when there is none."""
    entry = catalog.taken_by_run(folder, prefix, ex.info.stamp)
    if entry is None:
        raise StepFailed(
            ex.step, ex.host, f"no finished snapshot of this run ({ex.info.stamp}) in {folder}"
        )
    return entry


def write_meta(path: Path, data: dict[str, object]) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=2) + "\n")
    durable(part)
    part.rename(path)
