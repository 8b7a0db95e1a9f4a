"""`etcd_snapshot_restore`: restore a snapshot into a fresh data dir (etcdutl on 3.5+, etcdctl on
3.4, chosen from the facts)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from etcdops.commands import Command, Live, snapshot_tool, uses_etcdutl, with_args
from etcdops.steps import files
from etcdops.steps.base import (
    Action,
    ExecContext,
    Outcome,
    RunInfo,
    StepContext,
    StepKind,
    Write,
    heartbeat,
)
from etcdops.steps.spec import spec_field


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
    # what sets aside a dir an interrupted attempt left there: DIR.interrupted-<NOW>
    interrupted: tuple[files.SetAside, ...]


def interrupted_aside(path: str, run: RunInfo) -> files.SetAside:
    """A dir left by an interrupted attempt of this run, moved aside under the time it is found."""
    now = Live("NOW", prefix=f"{path}.interrupted-")
    return files.SetAside(
        path,
        f"{path}.interrupted-<NOW>",
        files.marker_command(path, path, "interrupted", run),
        files.move_command(path, now),
    )


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
        targets = (data, *([wal] if wal else []))
        interrupted = tuple(interrupted_aside(path, ctx.run) for path in targets)
        tool = "etcdutl" if uses_etcdutl(version) else "etcdctl (etcd 3.4)"
        return RestoreAction(
            intent=f"restore {spec.snapshot} into {data}{' and ' + wal if wal else ''} with "
            f"{tool}; a dir left by an interrupted attempt is moved aside first",
            commands=(*(c for a in interrupted for c in a.commands), restore),
            reads=(files.stat_command(*targets),),
            restore=restore,
            targets=targets,
            interrupted=interrupted,
            writes=(Write(ctx.host, data, spec.bytes, "the restored data dir"),),
            work=spec.bytes,
        )

    def execute(self, action: RestoreAction, ex: ExecContext) -> Outcome:
        notes = []
        states = files.stat(ex, *action.targets)
        for plan in action.interrupted:
            state = states[plan.src]
            if state.exists:  # an interrupted attempt of this run: kept, never reused or deleted
                now = files.now_stamp()
                found = replace(
                    plan, aside=f"{plan.src}.interrupted-{now}", move=plan.move.fill(NOW=now)
                )
                files.set_aside(ex, found, state.is_dir)
                notes.append(f"kept an interrupted attempt as {found.aside}")
        with heartbeat(ex.note, ex.timeout):
            ex.run(action.restore)
        return Outcome.changed("\n".join([*notes, f"restored into {', '.join(action.targets)}"]))
