"""`switch_binaries`: put the staged TOOL-VERSION (etcd-3.5.30, etcdctl-3.5.30, etcdutl-3.5.30) in
place of the TOOL etcd runs from, on one member: its turn in a rolling upgrade.

The upgrade stages the new version beside the installed one on every member at once (the install
playbook with a suffix), before the first restart; each member's turn is then only this switch,
its etcd.env and its restart. A running etcd keeps the file it was started from: nothing changes
until the restart. Each tool goes to TOOL.etcdops-part first (`cp -p`) and is renamed over TOOL
only when whole. Already switched (same sha256): ok, nothing run. The binaries installed before
are kept as TOOL-OLDVERSION by `keep_binaries`, run before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import AND, Command, Raw, sh
from etcdops.errors import StepFailed
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.steps.tlsfiles import parse_digests
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
    digests: Command
    switches: tuple[Switch, ...]


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
        paths = [p for s in switches for p in (s.tool, s.staged)]
        digests = sh("sha256sum", "--", *paths, Raw("2>/dev/null || true")).reads()
        return SwitchBinariesAction(
            intent=f"put etcd {version}'s staged binaries (TOOL-{version}) in place of the ones "
            "etcd runs from; nothing changes for the running etcd until its restart",
            commands=tuple(s.switch for s in switches),
            reads=(digests,),
            version=version,
            digests=digests,
            switches=switches,
        )

    def execute(self, action: SwitchBinariesAction, ex: ExecContext) -> Outcome:
        found = parse_digests(ex.run(action.digests).stdout)
        missing = [s.staged for s in action.switches if s.required and s.staged not in found]
        if missing:
            raise StepFailed(
                ex.step,
                ex.host,
                f"etcd {action.version} is not staged on {ex.host}: {', '.join(missing)} missing "
                "(the install step before stages it)",
            )
        done = []
        for s in action.switches:
            if s.staged not in found or found.get(s.tool) == found[s.staged]:
                continue
            ex.run(s.switch)
            done.append(s.tool)
        if not done:
            return Outcome.ok(f"etcd {action.version}'s binaries are in place already")
        return Outcome.changed(f"switched {', '.join(done)} to {action.version}")
