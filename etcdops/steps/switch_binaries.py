"""`switch_binaries`: put the staged TOOL-VERSION (etcd-3.5.30, etcdctl-3.5.30, etcdutl-3.5.30) in
place of the TOOL etcd runs from, on one member: its turn in a rolling upgrade.

The upgrade stages the new version beside the installed one on every member at once (the install
playbook with a suffix), before the first restart; each member's turn is then only this switch,
its etcd.env and its restart. A running etcd keeps the file it was started from: nothing changes
until the restart. Each tool goes to TOOL.etcdops-part first (`cp -p`) and is renamed over TOOL
only when whole. Already switched (the same bytes, `cmp`): ok, nothing run. The binaries installed
before are kept as TOOL-OLDVERSION by `keep_binaries`, run before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import AND, Command, Raw, sh
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.versions import Version


@dataclass(frozen=True)
class SwitchBinariesSpec:
    version: str = spec_field("the staged version: TOOL-VERSION beside each TOOL")


@dataclass(frozen=True, kw_only=True)
class Switch:
    tool: str  # the path etcd (or etcdctl, etcdutl) runs from
    staged: str  # TOOL-VERSION
    required: bool  # etcdutl exists from 3.5 on: a 3.4 target stages none
    switch: Command  # cp -p -- TOOL-VERSION TOOL.etcdops-part && mv -f -- ... TOOL


@dataclass(frozen=True, kw_only=True)
class SwitchBinariesAction(Action):
    version: str
    staged: Command  # stat of the staged files
    compare: Command  # per tool a line `CODE TOOL`: cmp's exit code (0: the same bytes)
    switches: tuple[Switch, ...]


def _compare(switches: tuple[Switch, ...]) -> Command:
    """`cmp -s` of each tool with its staged copy, printing `CODE TOOL` (0 the same, 1 different,
    2 one of them missing): a different file is found at its first bytes, so the usual case reads
    next to nothing (a checksum would read every file whole)."""
    parts: list[object] = []
    for s in switches:
        parts += ["cmp", "-s", "--", s.tool, s.staged, Raw('; echo "$?"'), s.tool, Raw(";")]
    return sh(*parts[:-1]).reads()


def _switch(tool: str, staged: str) -> Command:
    part = f"{tool}.etcdops-part"
    return sh("cp", "-p", "--", staged, part, AND, "mv", "-f", "--", part, tool)


class SwitchBinariesKind(StepKind[SwitchBinariesSpec, SwitchBinariesAction]):
    name = "switch_binaries"
    summary = "put the staged etcd binaries TOOL-VERSION in place of TOOL (a member's upgrade turn)"
    Spec = SwitchBinariesSpec
    shorthand = "version"

    def plan(self, spec: SwitchBinariesSpec, ctx: StepContext) -> SwitchBinariesAction:
        version = str(Version.parse(spec.version))
        etcd = ctx.etcd
        tools = (etcd.etcd, etcd.etcdctl, etcd.etcdutl)
        switches = tuple(
            Switch(
                tool=t,
                staged=f"{t}-{version}",
                required=t != etcd.etcdutl,
                switch=_switch(t, f"{t}-{version}"),
            )
            for t in tools
        )
        staged = files.stat_command(*(s.staged for s in switches))
        compare = _compare(switches)
        return SwitchBinariesAction(
            intent=f"put etcd {version}'s staged binaries (TOOL-{version}) in place of the ones "
            "etcd runs from; nothing changes for the running etcd until its restart",
            commands=tuple(s.switch for s in switches),
            reads=(staged, compare),
            version=version,
            staged=staged,
            compare=compare,
            switches=switches,
        )

    def execute(self, action: SwitchBinariesAction, ex: ExecContext) -> Outcome:
        there = files.parse_stat(ex.run(action.staged).stdout, [s.staged for s in action.switches])
        missing = [s.staged for s in action.switches if s.required and not there[s.staged].exists]
        if missing:
            raise StepFailed(
                ex.step,
                ex.host,
                f"etcd {action.version} is not staged on {ex.host}: {', '.join(missing)} missing "
                "(the install step before stages it)",
            )
        same = _same(ex.run(action.compare, check=False).stdout)
        done = []
        for s in action.switches:
            if not there[s.staged].exists or s.tool in same:
                continue
            ex.run(s.switch)
            done.append(s.tool)
        if not done:
            return Outcome.ok(f"etcd {action.version}'s binaries are in place already")
        return Outcome.changed(f"switched {', '.join(done)} to {action.version}")


def _same(text: str) -> set[str]:
    """The tools `cmp` found byte for byte the same as their staged copies."""
    return {
        line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("0 ") and " " in line
    }
