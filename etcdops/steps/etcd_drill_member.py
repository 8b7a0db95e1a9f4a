"""`etcd_drill_member`: one member of a throwaway cluster a restore drill builds on a scratch host.

Everything lives in `DATA_DIR.drill-STAMP/` beside the host's own data dir (its `data/`, the log
and the pid file), on the drill's own ports and token, so nothing of what the host runs
otherwise (its own etcd, a production member's ports on a machine shared with it) is touched:

- `restored`: the snapshot restored into DIR/data as a member of the drill's cluster (the drill
  hosts' names, their peer URLs on the drill's peer port, the drill's token);
- `started`: etcd started in the background with that data dir, the drill's URLs, and the TLS
  settings (and a few tunables) the inventory gives the host; no auto-compaction, no metrics
  listener of its own;
- `stopped`: that process (by its pid file, only if its command line names DIR) killed (SIGKILL:
  the member is thrown away, and a graceful stop of a leader whose followers stop at the same
  time stalls ~7 s in etcd's leadership transfer), then DIR marked as etcdops' and moved aside
  as `DATA_DIR.drilled-STAMP` (never deleted here; the prune runbook removes it later).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from etcdops.commands import AND, Command, Live, Raw, sh, snapshot_tool, with_args
from etcdops.errors import StepFailed
from etcdops.inventory import EtcdConfig, Inventory
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, Write, heartbeat
from etcdops.steps.etcd_snapshot_restore import interrupted_aside
from etcdops.steps.spec import spec_field

# what the drill member takes from the inventory's settings for the host: TLS and the tunables that
# decide whether it can serve the snapshot at all; never compaction, metrics URLs, data dirs
KEPT_SETTINGS = (
    "ETCD_TRUSTED_CA_FILE",
    "ETCD_CERT_FILE",
    "ETCD_KEY_FILE",
    "ETCD_CLIENT_CERT_AUTH",
    "ETCD_CLIENT_CRL_FILE",
    "ETCD_PEER_TRUSTED_CA_FILE",
    "ETCD_PEER_CERT_FILE",
    "ETCD_PEER_KEY_FILE",
    "ETCD_PEER_CLIENT_CERT_AUTH",
    "ETCD_PEER_CRL_FILE",
    "ETCD_PEER_CERT_ALLOWED_CN",
    "ETCD_CIPHER_SUITES",
    "ETCD_TLS_MIN_VERSION",
    "ETCD_TLS_MAX_VERSION",
    "ETCD_AUTO_TLS",
    "ETCD_PEER_AUTO_TLS",
    "ETCD_QUOTA_BACKEND_BYTES",
    "ETCD_MAX_REQUEST_BYTES",
    "ETCD_HEARTBEAT_INTERVAL",
    "ETCD_ELECTION_TIMEOUT",
)
STOP_WAIT = 10.0  # s for the killed process to be gone
START_CHECK = "0.3"  # s after the start: a member that cannot bind its ports has exited by then


@dataclass(frozen=True)
class DrillMemberSpec:
    state: Literal["restored", "started", "stopped"] = spec_field("what to make of the member")
    members: list[str] = spec_field("the drill's hosts (inventory names)", factory=list)
    snapshot: str = spec_field("restored: the snapshot's copy on the host", "")
    token: str = spec_field("restored: the drill cluster's --initial-cluster-token", "")
    client_port: int = spec_field("the drill's client port", 22379, minimum=1)
    peer_port: int = spec_field("the drill's peer port", 22380, minimum=1)
    bytes: int = spec_field("restored: the snapshot's size, for the disk check", 0, minimum=0)


@dataclass(frozen=True)
class DrillPaths:
    dir: str  # DATA_DIR.drill-STAMP
    aside: str  # DATA_DIR.drilled-STAMP
    data: str
    log: str
    pid: str


def drill_paths(etcd: EtcdConfig, stamp: str) -> DrillPaths:
    base = etcd.data_dir.rstrip("/")
    folder = f"{base}.drill-{stamp}"
    return DrillPaths(
        folder,
        f"{base}.drilled-{stamp}",
        f"{folder}/data",
        f"{folder}/etcd.log",
        f"{folder}/etcd.pid",
    )


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))


def drill_urls(etcd: EtcdConfig, client_port: int, peer_port: int) -> dict[str, str]:
    """The drill member's URLs: the host's own addresses (advertised and listened on, as the
    inventory gives them) on the drill's ports."""
    listen_client, listen_peer = etcd.listen_urls or (etcd.client_url, etcd.peer_url)
    return {
        "client": with_port(etcd.client_url, client_port),
        "peer": with_port(etcd.peer_url, peer_port),
        "listen_client": with_port(listen_client, client_port),
        "listen_peer": with_port(listen_peer, peer_port),
    }


def drill_cluster(
    inventory: Inventory, members: list[str] | tuple[str, ...], peer_port: int
) -> str:
    found = []
    for name in members:
        etcd = inventory.hosts[name].etcd
        if etcd is not None:
            found.append(f"{etcd.name}={with_port(etcd.peer_url, peer_port)}")
    return ",".join(found)


def pid_read(paths: DrillPaths) -> Command:
    """The drill member's pid when that process is alive and its command line names the drill's
    dir (a pid file left behind, or a reused pid, names no process of ours): else nothing."""
    return sh(
        Raw("p=$(cat --"),
        paths.pid,
        Raw("2>/dev/null) && [ -n \"$p\" ] && tr '\\0' ' ' <\"/proc/$p/cmdline\" 2>/dev/null"),
        Raw("| grep -qF --"),
        paths.data,
        Raw('&& echo "$p"; true'),
    ).reads()


@dataclass(frozen=True, kw_only=True)
class DrillMemberAction(Action):
    state: str
    paths: DrillPaths
    restore: Command | None = None
    mkdir: Command | None = None
    interrupted: files.SetAside | None = None
    start: Command | None = None
    pid: Command | None = None
    stat: Command | None = None
    kill: Command | None = None
    aside: files.SetAside | None = None


class EtcdDrillMemberKind(StepKind[DrillMemberSpec, DrillMemberAction]):
    name = "etcd_drill_member"
    summary = (
        "a throwaway restore-drill member on a scratch host (restored, started, stopped and "
        "moved aside), on its own ports and token"
    )
    Spec = DrillMemberSpec
    shorthand = "state"
    default_timeout = 900.0
    heartbeat = False

    def plan(self, spec: DrillMemberSpec, ctx: StepContext) -> DrillMemberAction:
        etcd = ctx.etcd
        if spec.client_port == spec.peer_port:
            raise ctx.error("etcd_drill_member: the client and peer ports must differ")
        paths = drill_paths(etcd, ctx.run.stamp)
        stat = files.stat_command(paths.dir, paths.aside)
        if spec.state == "restored":
            return self._restored(spec, ctx, etcd, paths, stat)
        if spec.state == "started":
            start = _start(etcd, paths, spec)
            urls = drill_urls(etcd, spec.client_port, spec.peer_port)
            return DrillMemberAction(
                intent=f"start the drill member {etcd.name} on {ctx.host} ({urls['client']}, peer "
                f"{urls['peer']}) from {paths.data}, in the background (pid in {paths.pid})",
                commands=(start,),
                reads=(pid_read(paths),),
                state=spec.state,
                paths=paths,
                start=start,
                pid=pid_read(paths),
            )
        kill = sh("kill", "-KILL", Live("PID"))
        aside = files.SetAside.of(paths.dir, paths.aside, "drilled", ctx.run)
        return DrillMemberAction(
            intent=f"stop the drill member on {ctx.host} (SIGKILL to its pid, if its command line "
            f"names {paths.data}) and move {paths.dir} aside as {paths.aside} (never deleted "
            "here)",
            commands=(kill, *aside.commands),
            reads=(pid_read(paths), stat),
            state=spec.state,
            paths=paths,
            pid=pid_read(paths),
            stat=stat,
            kill=kill,
            aside=aside,
        )

    @staticmethod
    def _restored(
        spec: DrillMemberSpec, ctx: StepContext, etcd: EtcdConfig, paths: DrillPaths, stat: Command
    ) -> DrillMemberAction:
        if not spec.snapshot or not spec.token or not spec.members:
            raise ctx.error("etcd_drill_member restored: needs snapshot, token and members")
        if ctx.host not in spec.members:
            raise ctx.error(f"etcd_drill_member: {ctx.host} is not one of members {spec.members}")
        cluster = drill_cluster(ctx.inventory, spec.members, spec.peer_port)
        urls = drill_urls(etcd, spec.client_port, spec.peer_port)
        restore = with_args(
            snapshot_tool(etcd, ctx.version()),
            "snapshot",
            "restore",
            spec.snapshot,
            "--name",
            etcd.name,
            "--initial-cluster",
            cluster,
            "--initial-cluster-token",
            spec.token,
            "--initial-advertise-peer-urls",
            urls["peer"],
            "--data-dir",
            paths.data,
        )
        mkdir = sh("mkdir", "-p", "--", paths.dir)
        interrupted = interrupted_aside(paths.dir, ctx.run)
        return DrillMemberAction(
            intent=f"restore {spec.snapshot} into {paths.data} as drill member {etcd.name} of "
            f"{cluster} (token {spec.token}); a dir an interrupted attempt left is moved aside",
            commands=(*interrupted.commands, mkdir, restore),
            reads=(stat,),
            state=spec.state,
            paths=paths,
            restore=restore,
            mkdir=mkdir,
            interrupted=interrupted,
            stat=stat,
            writes=(Write(ctx.host, paths.dir, spec.bytes, "the drill's restored data"),),
            work=spec.bytes,
        )

    def execute(self, action: DrillMemberAction, ex: ExecContext) -> Outcome:
        if action.state == "restored":
            return self._restore(action, ex)
        if action.state == "started":
            return self._start(action, ex)
        return self._stop(action, ex)

    @staticmethod
    def _restore(action: DrillMemberAction, ex: ExecContext) -> Outcome:
        assert action.stat and action.mkdir and action.restore and action.interrupted
        paths, notes = action.paths, []
        states = files.stat(ex, paths.dir, paths.aside)
        if states[paths.aside].exists:
            return Outcome.ok(f"this run's drill already finished here ({paths.aside})")
        if states[paths.dir].exists:  # an attempt of this run cut short: kept, never reused
            now = files.now_stamp()
            plan = action.interrupted
            found = replace(
                plan, aside=f"{plan.src}.interrupted-{now}", move=plan.move.fill(NOW=now)
            )
            files.set_aside(ex, found, states[paths.dir].is_dir)
            notes.append(f"kept an interrupted attempt as {found.aside}")
        ex.run(action.mkdir)
        with heartbeat(ex.note, ex.timeout):
            ex.run(action.restore)
        return Outcome.changed("\n".join([*notes, f"restored into {paths.data}"]))

    @staticmethod
    def _start(action: DrillMemberAction, ex: ExecContext) -> Outcome:
        assert action.start and action.pid
        running = ex.run(action.pid).stdout.strip()
        if running:
            return Outcome.ok(f"the drill member runs already (pid {running})")
        ex.run(action.start)
        pid = ex.run(action.pid).stdout.strip()
        if not pid:
            raise StepFailed(
                ex.step, ex.host, f"the drill member exited at start; see {action.paths.log}"
            )
        return Outcome.changed(f"started (pid {pid}); log {action.paths.log}")

    def _stop(self, action: DrillMemberAction, ex: ExecContext) -> Outcome:
        assert action.pid and action.stat and action.kill and action.aside
        paths, notes = action.paths, []
        pid = ex.run(action.pid).stdout.strip()
        if pid:
            ex.run(action.kill.fill(PID=pid), check=False)
            if not self._gone(action, ex, STOP_WAIT):
                raise StepFailed(ex.step, ex.host, f"the drill member (pid {pid}) does not exit")
            notes.append(f"stopped the drill member (pid {pid})")
        states = files.stat(ex, paths.dir, paths.aside)
        if states[paths.dir].exists and states[paths.aside].exists:
            raise StepFailed(
                ex.step, ex.host, f"both {paths.dir} and {paths.aside} exist: not touching either"
            )
        if states[paths.dir].exists:
            files.set_aside(ex, action.aside, states[paths.dir].is_dir)
            notes.append(f"moved {paths.dir} aside as {paths.aside}")
        if not notes:
            return Outcome.ok(f"nothing runs, {paths.dir} is not there")
        return Outcome.changed("\n".join(notes))

    @staticmethod
    def _gone(action: DrillMemberAction, ex: ExecContext, seconds: float) -> bool:
        assert action.pid
        end = time.monotonic() + seconds
        for _ in range(int(seconds / 0.1) + 1):  # bounded in count and time
            if not ex.run(action.pid).stdout.strip():
                return True
            if time.monotonic() > end:
                break
            ex.sleep(0.1)
        return False


def _start(etcd: EtcdConfig, paths: DrillPaths, spec: DrillMemberSpec) -> Command:
    urls = drill_urls(etcd, spec.client_port, spec.peer_port)
    flags = [
        "--name",
        etcd.name,
        "--data-dir",
        paths.data,
        f"--listen-client-urls={urls['listen_client']}",
        f"--advertise-client-urls={urls['client']}",
        f"--listen-peer-urls={urls['listen_peer']}",
        f"--initial-advertise-peer-urls={urls['peer']}",
    ]
    flags += [
        f"--{key[len('ETCD_') :].lower().replace('_', '-')}={etcd.env[key]}"
        for key in KEPT_SETTINGS
        if key in etcd.env and str(etcd.env[key]) != ""
    ]
    # setsid: the member outlives the SSH channel; it is stopped by its pid, checked to be ours
    return sh(
        "cd",
        "--",
        paths.dir,
        AND,
        Raw("("),
        "setsid",
        etcd.etcd,
        *flags,
        Raw("</dev/null >>"),
        paths.log,
        Raw("2>&1 & echo $! >"),
        paths.pid,
        Raw(")"),
        AND,
        "sleep",
        START_CHECK,
        AND,
        Raw('kill -0 "$(cat --'),
        paths.pid,
        Raw(')" 2>/dev/null || { tail -n 5 --'),
        paths.log,
        Raw(">&2; exit 1; }"),
    )
