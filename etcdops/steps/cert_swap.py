"""`cert_swap`: the staged files (`PATH.new-STAMP`, cert_stage) put in place of the ones the host
uses, each old file kept as `PATH.bak-STAMP` (copied with its mode and owner, never deleted); the
new file takes the old one's owner and mode and is renamed over it (a reader never finds no file).
etcd reads a trust bundle only when it starts: an etcd_service restart follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etcdops.commands import AND, Command, Raw, sh
from etcdops.errors import StepFailed
from etcdops.steps import files as fs
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.steps.tlsfiles import StagedFile, host_part, parse_digests, staged_files


@dataclass(frozen=True)
class CertSwapSpec:
    rotation: dict[str, Any] = spec_field("the rotation planned at plan time (vars.rotation)")


@dataclass(frozen=True)
class Swap:
    file: StagedFile
    backup: str
    into_place: Command  # the old file kept (unless kept already), the new one over it


@dataclass(frozen=True, kw_only=True)
class CertSwapAction(Action):
    swaps: tuple[Swap, ...]
    stat: Command
    digests: Command


def _swap(f: StagedFile, stamp: str) -> Swap:
    """One command: keep the old file (`cp -p`, unless an interrupted attempt kept it), give the
    new one its owner and mode, rename it over the old one."""
    backup = f"{f.dest}.bak-{stamp}"
    keep = sh(
        Raw("{ test -e"), backup, Raw("||"), "cp", "-p", "--", f.dest, backup, Raw("; }"), AND,
        "chown", f"--reference={f.dest}", "--", f.staged, AND,
        "chmod", f"--reference={f.dest}", "--", f.staged, AND,
        "mv", "-f", "--", f.staged, f.dest,
    )  # fmt: skip
    return Swap(f, backup, keep)


class CertSwapKind(StepKind[CertSwapSpec, CertSwapAction]):
    name = "cert_swap"
    summary = "put staged TLS files in place (old ones kept as PATH.bak-STAMP)"
    Spec = CertSwapSpec
    shorthand = "rotation"

    def plan(self, spec: CertSwapSpec, ctx: StepContext) -> CertSwapAction:
        files = staged_files(host_part(spec.rotation, ctx))
        swaps = tuple(_swap(f, ctx.run.stamp) for f in files)
        names = ", ".join(s.file.dest.rsplit("/", 1)[-1] for s in swaps) or "nothing"
        stat = fs.stat_command(*(p for s in swaps for p in (s.file.dest, s.file.staged)))
        digests = sh("sha256sum", "--", *(f.dest for f in files), Raw("2>/dev/null || true"))
        return CertSwapAction(
            intent=f"put the new {names} in place on {ctx.host} (each old file kept as "
            f".bak-{ctx.run.stamp})",
            commands=tuple(s.into_place for s in swaps),
            reads=(stat, digests.reads()),
            swaps=swaps,
            stat=stat,
            digests=digests.reads(),
        )

    def execute(self, action: CertSwapAction, ex: ExecContext) -> Outcome:
        paths = [p for s in action.swaps for p in (s.file.dest, s.file.staged)]
        state = fs.parse_stat(ex.run(action.stat).stdout, paths)
        pending = [s for s in action.swaps if state[s.file.staged].exists]
        done = [s for s in action.swaps if not state[s.file.staged].exists]
        if done:  # a resumed run: each file without its staged copy must hold the new bytes
            now = parse_digests(ex.run(action.digests).stdout)
            wrong = [s.file for s in done if now.get(s.file.dest) != s.file.sha256]
            if wrong:
                raise StepFailed(
                    ex.step,
                    ex.host,
                    f"{wrong[0].staged} is missing and {wrong[0].dest} is not the new file: "
                    "stage it first (cert_stage)",
                )
        for swap in pending:
            ex.run(swap.into_place)
        if not pending:
            return Outcome.ok("every new file is in place already")
        return Outcome.changed(
            f"{len(pending)} file(s) in place, the old ones kept as .bak-{ex.info.stamp}"
        )
