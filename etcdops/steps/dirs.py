"""`move_aside` and `swap_dir`: directories are renamed, never deleted.

`move_aside` renames DIR to DIR.SUFFIX-STAMP (a sibling, so owner, mode and contents stay) and
writes a marker file into it (`prune` removes only what carries it). `swap_dir` puts a prepared
DIR.NEW-STAMP in place of DIR, keeping the old one as DIR.ASIDE-STAMP with its owner and mode
given to the new one. Both read the state of every path first and do only what is still to
do, so a run interrupted anywhere can run them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etcdops.commands import Command, sh
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_service import listeners_command, member_ports, read_state, status_command
from etcdops.steps.spec import spec_field

SUFFIX_PATTERN = "[a-z][a-z-]*"


def etcd_dirs(ctx: StepContext) -> tuple[str, ...]:
    etcd = ctx.etcd
    return (etcd.data_dir, *((etcd.wal_dir,) if etcd.wal_dir else ()))


def _suffix(ctx: StepContext, value: str, what: str) -> str:
    import re

    if not re.fullmatch(SUFFIX_PATTERN, value):
        raise ctx.error(f"{what} {value!r}: lower-case letters and - only")
    return value


# ----- move_aside -------------------------------------------------------------
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
    moves: tuple[tuple[str, str], ...]
    reason: str
    only_if_not_empty: bool
    require_stopped: bool
    status: Command | None = None
    listeners: Command | None = None
    ports: tuple[tuple[str, int], ...] = field(default=())


class MoveAsideKind(StepKind[MoveAsideSpec, MoveAsideAction]):
    name = "move_aside"
    summary = "rename directories to DIR.SUFFIX-STAMP (never deleted, marked as etcdops')"
    Spec = MoveAsideSpec
    shorthand = "suffix"

    def plan(self, spec: MoveAsideSpec, ctx: StepContext) -> MoveAsideAction:
        suffix = _suffix(ctx, spec.suffix, "move_aside.suffix")
        paths = tuple(spec.paths) if spec.paths else etcd_dirs(ctx)
        moves = tuple((p, f"{p}.{suffix}-{ctx.run.stamp}") for p in paths)
        etcd = ctx.inventory.hosts[ctx.host].etcd if spec.require_stopped else None
        cond = " if it is not empty" if spec.only_if_not_empty else ""
        intent = (
            f"move {', '.join(paths)} aside as {', '.join(a for _, a in moves)}{cond} (never "
            "deleted)" + (f"; refused while etcd runs on {ctx.host}" if etcd else "")
        )
        commands = [files.stat_command(*(p for m in moves for p in m))]
        commands += [files.move_command(src, aside) for src, aside in moves]
        return MoveAsideAction(
            intent=intent,
            commands=tuple(commands),
            moves=moves,
            reason=suffix,
            only_if_not_empty=spec.only_if_not_empty,
            require_stopped=etcd is not None,
            status=status_command(etcd) if etcd else None,
            listeners=listeners_command() if etcd else None,
            ports=member_ports(etcd) if etcd else (),
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
        for src, aside in action.moves:
            states = files.stat(ex, src, aside)
            have, kept = states[src], states[aside]
            if not have.exists:
                if kept.exists:
                    files.mark(
                        ex, aside, src, action.reason
                    )  # an interrupted run may have moved it unmarked
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
            files.set_aside(ex, src, aside, action.reason)
            did.append(f"kept {src} as {aside}")
        detail = "\n".join(did + done)
        return Outcome.changed(detail) if did else Outcome.ok(detail)


# ----- swap_dir -----------------------------------------------------------------
@dataclass(frozen=True)
class SwapDirSpec:
    new: str = spec_field("the prepared directory is DIR.NEW-STAMP (e.g. restore)")
    aside: str = spec_field("the current one is kept as DIR.ASIDE-STAMP (e.g. pre-restore)")
    paths: list[str] | None = spec_field(
        "directories (default: the host's data dir and WAL dir)", None
    )


@dataclass(frozen=True, kw_only=True)
class SwapDirAction(Action):
    swaps: tuple[tuple[str, str, str], ...]  # (dir, prepared, aside)
    reason: str


class SwapDirKind(StepKind[SwapDirSpec, SwapDirAction]):
    name = "swap_dir"
    summary = (
        "put DIR.NEW-STAMP in place of DIR, keeping DIR as DIR.ASIDE-STAMP (owner and mode kept)"
    )
    Spec = SwapDirSpec

    def plan(self, spec: SwapDirSpec, ctx: StepContext) -> SwapDirAction:
        new, aside = (
            _suffix(ctx, spec.new, "swap_dir.new"),
            _suffix(ctx, spec.aside, "swap_dir.aside"),
        )
        paths = tuple(spec.paths) if spec.paths else etcd_dirs(ctx)
        swaps = tuple(
            (p, f"{p}.{new}-{ctx.run.stamp}", f"{p}.{aside}-{ctx.run.stamp}") for p in paths
        )
        intent = "; ".join(
            f"keep {d} as {a}, then move {n} into its place with its owner and mode"
            for d, n, a in swaps
        )
        commands = []
        for d, n, a in swaps:
            commands += [
                files.stat_command(d, n, a),
                files.move_command(d, a),
                files.move_command(n, d),
            ]
        return SwapDirAction(
            intent=intent + " (nothing is deleted)",
            commands=tuple(commands),
            swaps=swaps,
            reason=aside,
        )

    def execute(self, action: SwapDirAction, ex: ExecContext) -> Outcome:
        did, done = [], []
        for current, prepared, aside in action.swaps:
            s = files.stat(ex, current, prepared, aside)
            old, new, kept = s[current], s[prepared], s[aside]
            if not new.exists:
                if old.exists and kept.exists:
                    done.append(f"{current} is already in place (the old one kept as {aside})")
                    continue
                raise StepFailed(
                    ex.step,
                    ex.host,
                    f"{prepared} is missing: the step that prepares it has not finished",
                )
            if old.exists and kept.exists:
                raise StepFailed(
                    ex.step, ex.host, f"both {current} and {aside} exist: not touching either"
                )
            if old.exists:
                files.set_aside(ex, current, aside, action.reason)
                did.append(f"kept {current} as {aside}")
            owner_of = old if old.exists else kept  # after an interruption between the two renames
            files.copy_owner(ex, owner_of, prepared)
            ex.run(files.move_command(prepared, current).then(sh("test", "!", "-e", prepared)))
            did.append(f"moved {prepared} into place as {current}")
        detail = "\n".join(did + done)
        return Outcome.changed(detail) if did else Outcome.ok(detail)
