"""`copy_aside`: copy a host's etcd data dir (and WAL dir) aside under a stamped name, leaving the
original where it is: what recover keeps of the survivor before it forces a new cluster on it.

The copy goes to `DIR.SUFFIX-STAMP.part` first (cp -a: owner, mode and times kept), carries the
marker every set-aside directory carries, is compared with the original (the sha256 of etcd's
database, member/snap/db, on both sides) and only then renamed to `DIR.SUFFIX-STAMP`: a copy
under the final name is always whole. An interrupted copy (a `.part` left by a run cut short) is
itself moved aside as `.part.interrupted-STAMP` before the next attempt: never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etcdops.commands import Command, Live, sh
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, RunInfo, StepContext, StepKind
from etcdops.steps.etcd_service import listeners_command, member_ports, read_state, status_command
from etcdops.steps.spec import spec_field

DB = "member/snap/db"  # etcd's database inside a data dir


@dataclass(frozen=True)
class CopyAsideSpec:
    suffix: str = spec_field("DIR is copied to DIR.SUFFIX-STAMP (pre-recover, ...)")
    paths: list[str] | None = spec_field(
        "directories to copy (default: the host's data dir and WAL dir)", None
    )


@dataclass(frozen=True)
class Copy:
    """The commands that copy one directory aside, built once for the plan."""

    src: str
    dest: str
    copy: Command  # cp -a into DEST.part
    marker: Command
    done: Command  # DEST.part renamed to DEST
    park: Command  # a .part left by an interrupted run, moved aside

    @property
    def part(self) -> str:
        return f"{self.dest}.part"

    @classmethod
    def of(cls, src: str, dest: str, reason: str, run: RunInfo) -> Copy:
        part = f"{dest}.part"
        return cls(
            src,
            dest,
            sh("cp", "-a", "--reflink=auto", "-T", "--", src, part),
            files.marker_command(part, src, reason, run),
            files.move_command(part, dest),
            # stamped when it runs: a copy may be interrupted more than once
            files.move_command(part, Live("STAMP", prefix=f"{part}.interrupted-")),
        )


@dataclass(frozen=True, kw_only=True)
class CopyAsideAction(Action):
    copies: tuple[Copy, ...]
    status: Command
    listeners: Command
    ports: tuple[tuple[str, int], ...] = field(default=())


class CopyAsideKind(StepKind[CopyAsideSpec, CopyAsideAction]):
    name = "copy_aside"
    summary = "copy directories to DIR.SUFFIX-STAMP, compared by the sha256 of etcd's database"
    Spec = CopyAsideSpec
    shorthand = "suffix"

    def plan(self, spec: CopyAsideSpec, ctx: StepContext) -> CopyAsideAction:
        suffix = files.checked_suffix(ctx, spec.suffix, "copy_aside.suffix")
        paths = tuple(spec.paths) if spec.paths else files.etcd_dirs(ctx)
        copies = tuple(Copy.of(p, f"{p}.{suffix}-{ctx.run.stamp}", suffix, ctx.run) for p in paths)
        etcd = ctx.etcd
        reads = [files.stat_command(*(x for c in copies for x in (c.src, c.dest, c.part)))]
        reads += [files.sha256_command(f"{x}/{DB}") for c in copies for x in (c.src, c.part)]
        reads += [status_command(etcd), listeners_command()]
        return CopyAsideAction(
            intent=(
                f"copy {', '.join(paths)} to {', '.join(c.dest for c in copies)} (through .part, "
                f"the sha256 of {DB} compared on both sides); the original stays in place; "
                f"refused while etcd runs on {ctx.host}"
            ),
            commands=tuple(x for c in copies for x in (c.park, c.copy, c.marker, c.done)),
            reads=tuple(reads),
            copies=copies,
            status=status_command(etcd),
            listeners=listeners_command(),
            ports=member_ports(etcd),
        )

    def execute(self, action: CopyAsideAction, ex: ExecContext) -> Outcome:
        # a copy of a running etcd's files is no consistent database
        state = read_state(ex, action.status, action.listeners, action.ports)
        if not state.stopped:
            raise StepFailed(
                ex.step, ex.host, f"etcd is still running ({state.describe()}): not copying"
            )
        did, done = [], []
        for c in action.copies:
            states = files.stat(ex, c.src, c.dest, c.part)
            if states[c.dest].exists:
                done.append(f"{c.src} was already copied to {c.dest}")
                continue
            if not states[c.src].exists:
                done.append(f"{c.src} does not exist: nothing to copy")
                continue
            if states[c.part].exists:  # an earlier attempt, cut short
                stamp = files.now_stamp()
                ex.run(c.park.fill(STAMP=stamp))
                did.append(f"an interrupted copy was kept as {c.part}.interrupted-{stamp}")
            ex.run(c.copy)
            ex.run(c.marker)
            did.append(self._compared(ex, c))
            ex.run(c.done)
        detail = "\n".join(did + done)
        return Outcome.changed(detail) if did else Outcome.ok(detail)

    def _compared(self, ex: ExecContext, c: Copy) -> str:
        """The sha256 of etcd's database in the original and in the copy: equal, or the step
        fails (the .part stays for a look)."""
        original = files.remote_sha256(ex, f"{c.src}/{DB}")
        copied = files.remote_sha256(ex, f"{c.part}/{DB}")
        if original != copied:
            raise StepFailed(
                ex.step,
                ex.host,
                f"the copy of {c.src}/{DB} differs from the original (sha256 {copied or 'none'} "
                f"against {original or 'none'}): the copy is left as {c.part}",
            )
        if not original:
            return f"copied {c.src} to {c.dest} (it holds no {DB})"
        return f"copied {c.src} to {c.dest}; {DB} sha256 {original} on both sides"
