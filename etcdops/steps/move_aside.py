"""`move_aside`: move a host's etcd data dir (and WAL dir) aside under a stamped name, never
deleting it."""

from __future__ import annotations

from dataclasses import dataclass, field

from etcdops.commands import Command
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, RunInfo, StepContext, StepKind
from etcdops.steps.etcd_service import listeners_command, member_ports, read_state, status_command
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class MoveAsideSpec:
    suffix: str = spec_field("DIR becomes DIR.SUFFIX-STAMP (removed, wiped, ...)")
    paths: list[str] | None = spec_field(
        "directories to move (default: the host's data dir and WAL dir)", None
    )
    only_if_not_empty: bool = spec_field("leave an empty directory in place", False)
    require_stopped: bool = spec_field("refuse while etcd runs on the host (status, ports)", True)


@dataclass(frozen=True, kw_only=True)
class MoveAsideAction(Action):
    moves: tuple[files.SetAside, ...]
    reason: str
    only_if_not_empty: bool
    require_stopped: bool
    status: Command | None = None
    listeners: Command | None = None
    ports: tuple[tuple[str, int], ...] = field(default=())
    run: RunInfo


class MoveAsideKind(StepKind[MoveAsideSpec, MoveAsideAction]):
    name = "move_aside"
    summary = "rename directories to DIR.SUFFIX-STAMP (never deleted, marked as etcdops')"
    Spec = MoveAsideSpec
    shorthand = "suffix"

    def plan(self, spec: MoveAsideSpec, ctx: StepContext) -> MoveAsideAction:
        suffix = files.checked_suffix(ctx, spec.suffix, "move_aside.suffix")
        paths = tuple(spec.paths) if spec.paths else files.etcd_dirs(ctx)
        moves = tuple(
            files.SetAside.of(p, f"{p}.{suffix}-{ctx.run.stamp}", suffix, ctx.run) for p in paths
        )
        etcd = ctx.inventory.hosts[ctx.host].etcd if spec.require_stopped else None
        cond = " if it is not empty" if spec.only_if_not_empty else ""
        intent = (
            f"move {', '.join(paths)} aside as {', '.join(m.aside for m in moves)}{cond} "
            "(never deleted)"
        )
        if etcd:
            intent += f"; refused while etcd runs on {ctx.host}"
        reads = [files.stat_command(m.src, m.aside) for m in moves]
        reads += [files.empty_command(m.src) for m in moves if spec.only_if_not_empty]
        if etcd:
            reads += [status_command(etcd), listeners_command()]
        return MoveAsideAction(
            intent=intent,
            commands=tuple(c for m in moves for c in m.commands)
            + tuple(files.marker_command(m.aside, m.src, suffix, ctx.run) for m in moves),
            reads=tuple(reads),
            moves=moves,
            reason=suffix,
            only_if_not_empty=spec.only_if_not_empty,
            require_stopped=etcd is not None,
            status=status_command(etcd) if etcd else None,
            listeners=listeners_command() if etcd else None,
            ports=member_ports(etcd) if etcd else (),
            run=ctx.run,
        )

    def execute(self, action: MoveAsideAction, ex: ExecContext) -> Outcome:
        if action.require_stopped:
            assert action.status is not None and action.listeners is not None
            state = read_state(ex, action.status, action.listeners, action.ports)
            if not state.stopped:
                raise StepFailed(
                    ex.step,
                    ex.host,
                    f"etcd is still running ({state.describe()}): not moving its data dir",
                )
        done, did = [], []
        for move in action.moves:
            src, aside = move.src, move.aside
            states = files.stat(ex, src, aside)
            have, kept = states[src], states[aside]
            if not have.exists:
                if kept.exists:
                    # moved by a run of an older etcdops that marked after the rename, and cut short
                    if kept.is_dir:
                        marker = files.marker_command(aside, src, action.reason, action.run)
                        ex.run(marker)
                    done.append(f"{src} was already moved aside as {aside}")
                else:
                    done.append(f"{src} does not exist: nothing to move")
                continue
            if kept.exists:
                raise StepFailed(
                    ex.step, ex.host, f"both {src} and {aside} exist: not touching either"
                )
            if action.only_if_not_empty and have.is_dir and files.is_empty_dir(ex, src):
                done.append(f"{src} is empty: left in place")
                continue
            files.set_aside(ex, move, have.is_dir)
            did.append(f"kept {src} as {aside}")
        detail = "\n".join(did + done)
        return Outcome.changed(detail) if did else Outcome.ok(detail)
