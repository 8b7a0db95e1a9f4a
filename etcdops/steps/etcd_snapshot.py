"""Snapshots: `etcd_snapshot_save` (on a member, then to the control node with its metadata),
`etcd_snapshot_verify` (a copy on a host passes `snapshot status`) and `etcd_snapshot_restore`
(into a fresh directory; etcdutl on 3.5+, etcdctl on 3.4, chosen from the facts).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from etcdops.commands import Command, Raw, etcdctl, sh, snapshot_tool, uses_etcdutl, with_args
from etcdops.durable import durable
from etcdops.errors import StepFailed
from etcdops.facts.parse import SnapshotStatus, parse_count, parse_snapshot_status
from etcdops.inventory import EtcdConfig
from etcdops.steps import files
from etcdops.steps.base import (
    Action,
    ExecContext,
    Outcome,
    StepContext,
    StepKind,
    Write,
    heartbeat,
    mb,
)
from etcdops.steps.spec import spec_field
from etcdops.steps.transfer import download
from etcdops.transport.local import CONTROL

SNAPSHOT_TIMEOUT = 600


def status_command(etcd: EtcdConfig, version: str | None, path: str) -> Command:
    return with_args(snapshot_tool(etcd, version), "snapshot", "status", path, "-w", "json")


def count_command(etcd: EtcdConfig, revision: int | str, endpoints: str | None = None) -> Command:
    """Keys at a revision, counted by etcd: the `count` of a one-key range read over every key
    (3.4 has
    no --count-only; both answer `count` with --limit=1)."""
    return etcdctl(
        etcd,
        "get",
        "",
        "--prefix",
        "--keys-only",
        "--limit=1",
        f"--rev={revision}",
        "-w",
        "json",
        endpoints=endpoints,
    )


# ----- verify ---------------------------------------------------------------------
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
        status = status_command(ctx.etcd, ctx.version(), spec.path)
        want = f" at revision {spec.revision}" if spec.revision is not None else ""
        return VerifyAction(
            intent=f"check that {spec.path} on {ctx.host} is a readable snapshot{want}",
            commands=(status,),
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
            f"revision {status.revision}, {status.total_keys} keys, {mb(status.total_size)}"
        )


# ----- restore --------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreSpec:
    snapshot: str = spec_field("the snapshot file on the host")
    token: str = spec_field("the new --initial-cluster-token")
    into: str = spec_field("restore into DATA_DIR.INTO-STAMP (and WAL_DIR.INTO-STAMP)", "restore")
    bump_revision: int = spec_field(
        "--bump-revision N --mark-compacted (etcdutl 3.5+)", 0, minimum=0
    )
    initial_cluster: str | None = spec_field(
        "NAME=PEER_URL,... (default: the inventory's etcd group)", None
    )
    bytes: int = spec_field(
        "how much the restored database takes (the snapshot's size), for the disk check",
        0,
        minimum=0,
    )


@dataclass(frozen=True, kw_only=True)
class RestoreAction(Action):
    restore: Command
    targets: tuple[str, ...]  # the fresh data dir (and WAL dir)


class EtcdSnapshotRestoreKind(StepKind[RestoreSpec, RestoreAction]):
    name = "etcd_snapshot_restore"
    summary = (
        "restore a snapshot into a fresh data dir (etcdutl 3.5+ / etcdctl 3.4, from the facts)"
    )
    Spec = RestoreSpec
    default_timeout = 900.0

    def plan(self, spec: RestoreSpec, ctx: StepContext) -> RestoreAction:
        etcd, version = ctx.etcd, ctx.version()
        if spec.bump_revision and not uses_etcdutl(version):
            raise ctx.error(f"--bump-revision needs etcdutl 3.5+; {ctx.host} runs etcd {version}")
        data = f"{etcd.data_dir}.{spec.into}-{ctx.run.stamp}"
        wal = f"{etcd.wal_dir}.{spec.into}-{ctx.run.stamp}" if etcd.wal_dir else None
        args: list[object] = [
            "snapshot",
            "restore",
            spec.snapshot,
            "--name",
            etcd.name,
            "--initial-cluster",
            spec.initial_cluster or ctx.inventory.initial_cluster(),
            "--initial-cluster-token",
            spec.token,
            "--initial-advertise-peer-urls",
            etcd.peer_url,
            "--data-dir",
            data,
        ]
        if wal:
            args += ["--wal-dir", wal]
        if spec.bump_revision:
            args += ["--bump-revision", str(spec.bump_revision), "--mark-compacted"]
        restore = with_args(snapshot_tool(etcd, version), *args)
        tool = "etcdutl" if uses_etcdutl(version) else "etcdctl (etcd 3.4)"
        return RestoreAction(
            intent=f"restore {spec.snapshot} into {data}{' and ' + wal if wal else ''} with "
            f"{tool}; a dir left by an interrupted attempt is moved aside first",
            commands=(files.stat_command(data, *([wal] if wal else [])), restore),
            restore=restore,
            targets=(data, *([wal] if wal else [])),
            writes=(Write(ctx.host, data, spec.bytes, "the restored data dir"),),
            work=spec.bytes,
        )

    def execute(self, action: RestoreAction, ex: ExecContext) -> Outcome:
        notes = []
        for path, state in files.stat(ex, *action.targets).items():
            if (
                state.exists
            ):  # an interrupted attempt of this run: kept, never reused, never deleted
                aside = f"{path}.interrupted-{_now()}"
                files.set_aside(ex, path, aside, "interrupted")
                notes.append(f"kept an interrupted attempt as {aside}")
        with heartbeat(ex.note, ex.timeout):
            ex.run(action.restore)
        return Outcome.changed("\n".join([*notes, f"restored into {', '.join(action.targets)}"]))


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# ----- save -----------------------------------------------------------------------
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
    status: Command
    etcd: EtcdConfig
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
        status_cmd = status_command(etcd, version, remote)
        facts = ctx.facts
        meta = {
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
            "both "
            "ends as it streams) while it is verified there (snapshot status, its key count); its "
            "metadata beside it",
            commands=(
                save,
                sh("mv", "-f", remote + ".part", remote),
                status_cmd,
                count_command(etcd, "<REV>"),
            ),
            remote=remote,
            dest=spec.dest,
            name=spec.name,
            save=save,
            status=status_cmd,
            etcd=etcd,
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
        ex.run(sh("mv", "-f", "--", remote + ".part", remote))
        dest = Path(action.dest)
        hidden = (
            dest / f".{action.name}-{ex.info.stamp}.db"
        )  # named by its revision once that is read
        # the check on the host (snapshot status, the key count at its revision) runs while the copy
        # streams to the control node, hashed on both ends as it goes
        with ThreadPoolExecutor(max_workers=1) as pool:
            checked = pool.submit(self._timed_check, action, ex)
            copied = download(ex, remote, str(hidden))
            status, keys, check_seconds = checked.result()
        sha = str((copied.report or {}).get("sha256", ""))
        base = f"{action.name}-rev{status.revision}-{ex.info.stamp}"
        synced = time.monotonic()
        durable(
            hidden
        )  # a backup is named complete only once its bytes are on the control node's disk
        synced = time.monotonic() - synced
        if synced >= 1:
            ex.note(f"written to the control node's disk (fsync) in {synced:.1f}s")
        write_meta(
            dest / f"{base}.json",
            {
                **action.meta,
                "revision": status.revision,
                "keys": keys,
                "sha256": sha,
                "status": _status_dict(status),
            },
        )
        hidden.rename(dest / f"{base}.db")
        durable(dest)  # and the names too
        ex.run(sh("rm", "-f", "--", remote, Raw("2>/dev/null; true")))
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
        keys = parse_count(ex.run(count_command(action.etcd, status.revision)).stdout)
        ex.note(
            f"verified on the host: revision {status.revision}, {keys} keys, "
            f"{mb(status.total_size)}"
        )
        return status, keys


def _status_dict(status: SnapshotStatus) -> dict[str, int]:
    return {
        "hash": status.hash,
        "revision": status.revision,
        "totalKey": status.total_keys,
        "totalSize": status.total_size,
    }


def write_meta(path: Path, data: dict[str, object]) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=2) + "\n")
    durable(part)
    part.rename(path)
