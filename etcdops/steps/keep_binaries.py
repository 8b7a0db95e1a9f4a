"""`keep_binaries`: before new etcd binaries are installed, copy the ones installed now beside
them as TOOL-VERSION (etcd-3.4.23, etcdctl-3.4.23, etcdutl-3.4.23): the rollback of an upgrade
is these copies put back. Never deleted or overwritten: a copy that is there already is kept.

The version is read from `etcd --version` when it runs. Each copy goes to TOOL-VERSION.part first
(`cp -pL`: the file a link points to, mode and times kept) and is renamed only when whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import AND, Command, Live, Raw, sh
from etcdops.errors import StepFailed
from etcdops.facts.parse import parse_version
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.versions import Version


@dataclass(frozen=True)
class KeepBinariesSpec:
    version: str = spec_field("the etcd version about to be installed (nothing kept if it is)")


@dataclass(frozen=True, kw_only=True)
class Keep:
    tool: str  # its path
    copy: Command  # cp -pL -- TOOL TOOL-<VERSION>.part && mv -nT -- ... TOOL-<VERSION>


@dataclass(frozen=True, kw_only=True)
class KeepBinariesAction(Action):
    target: str
    version_read: Command
    stat: Command  # the tools
    stat_kept: Command  # the copies, once the version is known
    keeps: tuple[Keep, ...]


def _copy(tool: str) -> Command:
    part = Live("PART", prefix=f"{tool}-")
    return sh(
        "cp", "-pL", "--", tool, part, AND, "mv", "-nT", "--", part,
        Live("VERSION", prefix=f"{tool}-"),
    )  # fmt: skip


def _stat_kept(tools: tuple[str, ...]) -> Command:
    kept = (Live("VERSION", prefix=f"{t}-") for t in tools)
    return sh("stat", "-c", files.STAT_FORMAT, "--", *kept, Raw("2>/dev/null; true")).reads()


class KeepBinariesKind(StepKind[KeepBinariesSpec, KeepBinariesAction]):
    name = "keep_binaries"
    summary = "copy the installed etcd binaries beside themselves as TOOL-VERSION (never deleted)"
    Spec = KeepBinariesSpec
    shorthand = "version"

    def plan(self, spec: KeepBinariesSpec, ctx: StepContext) -> KeepBinariesAction:
        target = str(Version.parse(spec.version))
        etcd = ctx.etcd
        tools = (etcd.etcd, etcd.etcdctl, etcd.etcdutl)
        version_read = sh(etcd.etcd, "--version").reads()
        keeps = tuple(Keep(tool=t, copy=_copy(t)) for t in tools)
        return KeepBinariesAction(
            intent=(
                f"keep the etcd binaries installed now beside them as TOOL-VERSION "
                f"(unless they are {target} already)"
            ),
            commands=tuple(k.copy for k in keeps),
            reads=(version_read, files.stat_command(*tools), _stat_kept(tools)),
            target=target,
            version_read=version_read,
            stat=files.stat_command(*tools),
            stat_kept=_stat_kept(tools),
            keeps=keeps,
        )

    def execute(self, action: KeepBinariesAction, ex: ExecContext) -> Outcome:
        now, _ = parse_version(ex.run(action.version_read, check=False).stdout)
        if not now:
            raise StepFailed(ex.step, ex.host, "etcd --version gave no version: nothing to keep")
        if Version.parse(now) == Version.parse(action.target):
            return Outcome.ok(f"etcd {now} is installed already: nothing to keep")
        tools = [k.tool for k in action.keeps]
        there = files.parse_stat(ex.run(action.stat).stdout, tools)
        dests = [f"{t}-{now}" for t in tools]
        kept = files.parse_stat(ex.run(action.stat_kept.fill(VERSION=now)).stdout, dests)
        done = []
        for keep, dest in zip(action.keeps, dests, strict=True):
            if not there[keep.tool].exists or kept[dest].exists:
                continue
            ex.run(keep.copy.fill(VERSION=now, PART=f"{now}.part"))
            done.append(dest)
        if not done:
            return Outcome.ok(f"etcd {now}'s binaries are kept already")
        return Outcome.changed(f"kept {', '.join(done)}")
