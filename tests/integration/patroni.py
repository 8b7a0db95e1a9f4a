"""Patroni 4.1 + PostgreSQL 15 as a real client of a test lab: three nodes on loopback addresses
of the
lab's own /24, in etcd3 mode over TLS with the lab's client certificate. Started and stopped by pid.

    with PatroniCluster(lab, tmp_path / "patroni") as pg:      # starts 3 nodes, waits until ready
        stale = pg.stale_leader_snapshot()                       # snapshot while A leads,
        switch over to B
        pg.start_writer()                                        # a row every ~100 ms through
        the primary
        since = time.monotonic()
        lab.etcdops("run", "restore", ...)
        pg.settle(since)                                         # observe long enough for a
        lease to expire
        pg.failovers(since), pg.demotions(since), pg.timeline(), pg.longest_write_gap(since)
        pg.stop_writer(); pg.missing_rows()

PostgreSQL runs as the `postgres` OS user, and so does Patroni (Popen with user=, so the pid
we hold is
Patroni's own). The venv's interpreter may not be executable by that user (a pyenv Python
under /root):
then the system's python3.X of the same version runs Patroni from the venv's site-packages.

Where the files go: pytest's tmp dirs sit under /tmp/pytest-of-root, mode 0700, which the
postgres user
cannot cross (and every new pytest session on the machine resets that mode). So what that user
reads and
writes (configs, certificate copies, data dirs, sockets) lives in a private dir of its own,
/tmp/etcdops-patroni-XXXX (mode 0700, owner postgres), removed at stop; Patroni's logs (opened by us
and inherited) and a copy of each node's patroni.yml stay in the test's dir, for a look after
a failure.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from tests.integration.helpers import LabEnv

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
SCOPE, NAMESPACE = "pg", "/service/"
TTL, LOOP_WAIT, RETRY_TIMEOUT = 30, 10, 10
REST_PORT, PG_PORT = 8008, 5432
POLL = 0.5  # seconds between two reads of every node's REST API
TABLE = "etcdops_w"
T = TypeVar("T")

# Patroni's own lines that tell of a change of leader (in each node's patroni.log)
EVENT_LINES = re.compile(
    r"Demoting self|promoted self to leader|Lost lock|acquired session lock|"
    r"Etcd Cluster ID changed|does not have lock|Cleaning up|switchover|failover|"
    r"demoted|running pg_rewind|starting after demotion|following a different leader",
    re.IGNORECASE,
)

# Patroni starts the postmaster through multiprocessing's spawn, which imports this file again:
# the guard
LAUNCHER = """\
import site, sys
site.addsitedir({site!r})
if __name__ == "__main__":
    from patroni.__main__ import main
    sys.argv[0] = "patroni"
    main()
"""


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    dir: Path  # in the private dir: config, data, sockets
    log: Path  # in the test's dir

    @property
    def rest(self) -> str:
        return f"http://{self.address}:{REST_PORT}"

    @property
    def data(self) -> Path:
        return self.dir / "data"


@dataclass(frozen=True)
class RoleChange:
    mono: float
    wall: float
    node: str
    old: str
    new: str
    timeline: int | None


@dataclass(frozen=True)
class PrimaryChange:
    mono: float
    wall: float
    old: str
    new: str
    timeline: int | None


@dataclass(frozen=True)
class StaleLeader:
    """A snapshot taken while `named` held the leader key, and the primary now (`primary`)."""

    snapshot: Path
    named: str
    primary: str


def rest_get(url: str, timeout: float = 1.0) -> tuple[int, dict]:
    """(HTTP status, JSON body); (0, {}) when nothing answers. Patroni answers 503 with a body
    too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}
    except (OSError, ValueError):
        return 0, {}


def rest_post(url: str, body: dict, timeout: float = 60.0) -> tuple[int, str]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def wait_until(what: str, check: Callable[[], T], timeout: float, every: float = 0.5) -> T:
    """Calls check() until it returns something true, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / every) + 2):
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout}s")


def ensure_pg_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--home-dir",
                "/var/lib/postgresql",
                "--no-create-home",
                "--shell",
                "/bin/sh",
                PG_USER,
            ],
            check=True,
            timeout=30,
        )
        return pwd.getpwnam(PG_USER)


class Monitor:
    """Reads every node's GET /patroni each POLL seconds (one thread per node) and records role
    changes, primary changes and timelines."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.lock = threading.Lock()
        self.roles: dict[str, str] = {}
        self.timelines: dict[str, int | None] = {}
        self.role_changes: list[RoleChange] = []
        self.primary_changes: list[PrimaryChange] = []
        self.primary: str | None = None
        self.unanswered: list[tuple[float, str]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll, args=(n,), daemon=True) for n in nodes]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t.ident is not None:  # started
                t.join(timeout=5)

    def _poll(self, node: Node) -> None:
        while not self._stop.is_set():
            code, body = rest_get(f"{node.rest}/patroni", timeout=2.0)
            role = body.get("role") if code else None
            if role == "primary" and body.get("state") != "running":
                role = f"primary-{body.get('state')}"
            self._record(node.name, role, body.get("timeline"))
            self._stop.wait(POLL)

    def _record(self, name: str, role: str | None, timeline: int | None) -> None:
        """A node that does not answer (role None) keeps its last role: a primary that stops
        answering for a moment under load is no demotion, one that answers as a replica
        afterwards is."""
        now, wall = time.monotonic(), time.time()
        with self.lock:
            self.samples += 1
            if role is None:
                self.unanswered.append((now, name))
                return
            old = self.roles.get(name)
            if old is not None and old != role:
                self.role_changes.append(RoleChange(now, wall, name, old, role, timeline))
            self.roles[name] = role
            self.timelines[name] = timeline
            if role == "primary" and self.primary != name:
                if self.primary is not None:
                    self.primary_changes.append(
                        PrimaryChange(now, wall, self.primary, name, timeline)
                    )
                self.primary = name


class SqlWriter:
    """Inserts one row every ~100 ms through the current primary (asked of the REST API after any
    error) and records every acknowledged id with the time of its acknowledgement."""

    def __init__(
        self, cluster: PatroniCluster, every: float = 0.1, max_seconds: float = 1800
    ) -> None:
        self.cluster, self.every, self.max_seconds = cluster, every, max_seconds
        self.acked: list[tuple[int, float]] = []
        self.failures: list[tuple[float, str]] = []
        self.attempted = 0
        self.started = self.stopped = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=30)
        self.stopped = self.stopped or time.monotonic()

    def _run(self) -> None:
        import psycopg

        conn = None
        next_id = 1
        while not self._stop.is_set() and time.monotonic() - self.started < self.max_seconds:
            try:
                if conn is None:
                    conn = self.cluster.connect(self.cluster.primary() or "")
                conn.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", (next_id,))
                self.acked.append((next_id, time.monotonic()))
            except (psycopg.Error, OSError, AssertionError) as err:
                self.failures.append(
                    (time.monotonic(), f"{type(err).__name__}: {str(err).strip()[:200]}")
                )
                if conn is not None:
                    conn.close()
                conn = None
            self.attempted += 1
            next_id += 1
            self._stop.wait(self.every)
        if conn is not None:
            conn.close()

    def longest_gap(self, since: float | None = None, until: float | None = None) -> float:
        """The longest stretch without an acknowledged row in [since, until] (default: the whole
        run)."""
        start = self.started if since is None else since
        end = until or self.stopped or time.monotonic()
        times = [start, *(t for _, t in self.acked if start <= t <= end), end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


class PatroniCluster:
    """Three Patroni nodes (pg1..pg3 at LAB_NET.first_host+0..2) against the lab's etcd, over TLS.
    `workdir` (the test's) gets the logs; the rest goes to a private dir made at start."""

    def __init__(self, lab: LabEnv, workdir: Path, first_host: int = 101, nodes: int = 3) -> None:
        assert lab.tls, "the harness speaks TLS to etcd (the lab's default)"
        self.lab, self.workdir = lab, workdir
        self.home = Path(tempfile.mkdtemp(prefix="etcdops-patroni-"))
        self.nodes = [
            Node(
                f"pg{i + 1}",
                f"{lab.net}{first_host + i}",
                self.home / f"pg{i + 1}",
                workdir / f"pg{i + 1}.log",
            )
            for i in range(nodes)
        ]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.monitor = Monitor(self.nodes)
        self.writer: SqlWriter | None = None
        self.timings: dict[str, float] = {}

    # -- life cycle --------------------------------------------------------------------------------

    def __enter__(self) -> PatroniCluster:
        try:
            self.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        t0 = time.monotonic()
        user = ensure_pg_user()
        assert (PG_BIN / "postgres").exists(), (
            f"PostgreSQL 15 is not installed ({PG_BIN}): make setup"
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chown(self.home, user.pw_uid, user.pw_gid)
        os.chmod(self.home, 0o700)
        self._copy_certs(user)
        argv = self._patroni_argv(user)
        hosts = self._etcd_hosts()
        self.lab.ctl(
            "del", "--prefix", f"{NAMESPACE}{SCOPE}/"
        )  # a cluster left by an earlier run of this lab
        for node in self.nodes:
            self._write_node(node, hosts, user)
        for node in self.nodes:
            self._launch(node, argv, user)
        self.monitor.start()
        self.timings["start"] = time.monotonic() - t0

    def _copy_certs(self, user: pwd.struct_passwd) -> None:
        certs = self.home / "certs"
        certs.mkdir(exist_ok=True)
        env = self.lab.ctl_env
        for name, var in (
            ("ca.pem", "ETCDCTL_CACERT"),
            ("client.pem", "ETCDCTL_CERT"),
            ("client-key.pem", "ETCDCTL_KEY"),
        ):
            shutil.copyfile(env[var], certs / name)
            os.chown(certs / name, user.pw_uid, user.pw_gid)
            os.chmod(certs / name, 0o600)
        os.chown(certs, user.pw_uid, user.pw_gid)

    def _patroni_argv(self, user: pwd.struct_passwd) -> list[str]:
        """[python, -S, launcher]: the venv's python if `postgres` can run it, else
        /usr/bin/python3.X."""
        site = sysconfig.get_paths()["purelib"]
        launcher = self.home / "run-patroni.py"
        launcher.write_text(LAUNCHER.format(site=site))
        os.chmod(launcher, 0o644)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        probe = (
            f"import site, sys; site.addsitedir({site!r}); import patroni, psycopg; "
            "print(sys.version_info[:2])"
        )
        seen = []
        for python in (Path(sys.prefix) / "bin" / "python", Path(f"/usr/bin/python{version}")):
            try:
                proc = subprocess.run(
                    [str(python), "-S", "-c", probe],
                    user=user.pw_uid,
                    group=user.pw_gid,
                    extra_groups=[],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    cwd="/",
                )
            except OSError as err:  # not executable by that user (e.g. under /root)
                seen.append(f"{python}: {err}")
                continue
            if proc.returncode == 0 and proc.stdout.strip() == str(sys.version_info[:2]):
                return [str(python), "-S", str(launcher)]
            seen.append(
                f"{python}: exit {proc.returncode} {proc.stdout.strip()} "
                f"{proc.stderr.strip()[-300:]}"
            )
        raise AssertionError(
            f"the {PG_USER} user cannot run Patroni from {site}:\n" + "\n".join(seen)
        )

    def _config(self, node: Node, hosts: list[str]) -> dict:
        certs = self.home / "certs"
        sockets = node.dir / "run"
        return {
            "scope": SCOPE,
            "namespace": NAMESPACE,
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"{node.address}:{REST_PORT}",
                "connect_address": f"{node.address}:{REST_PORT}",
            },
            "etcd3": {
                "protocol": "https",
                "hosts": hosts,
                "cacert": str(certs / "ca.pem"),
                "cert": str(certs / "client.pem"),
                "key": str(certs / "client-key.pem"),
            },
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "64MB",
                            "max_connections": 30,
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            },
            "postgresql": {
                "listen": f"{node.address}:{PG_PORT}",
                "connect_address": f"{node.address}:{PG_PORT}",
                "data_dir": str(node.data),
                "bin_dir": str(PG_BIN),
                "pgpass": str(node.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": PG_USER},
                    "replication": {"username": "replicator"},
                    "rewind": {"username": PG_USER},
                },
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.0/8 trust",
                    "host replication all 127.0.0.0/8 trust",
                ],
                "parameters": {
                    "unix_socket_directories": str(sockets) if len(str(sockets)) < 90 else "",
                    "shared_buffers": "16MB",
                },
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
            },
            "watchdog": {"mode": "off"},
        }

    def _etcd_hosts(self) -> list[str]:
        """The members' client addresses (host:port), from `etcdops status`."""
        return [
            url.removeprefix("https://")
            for m in self.lab.status()["members"]
            for url in m["client_urls"]
        ]

    def _write_node(self, node: Node, hosts: list[str], user: pwd.struct_passwd) -> None:
        for d in (node.dir, node.dir / "run"):
            d.mkdir(exist_ok=True)
            os.chown(d, user.pw_uid, user.pw_gid)
            os.chmod(d, 0o700)
        (node.dir / "patroni.yml").write_text(
            yaml.safe_dump(self._config(node, hosts), sort_keys=False)
        )
        os.chown(node.dir / "patroni.yml", user.pw_uid, user.pw_gid)
        shutil.copyfile(node.dir / "patroni.yml", node.log.with_suffix(".yml"))

    def _launch(self, node: Node, argv: list[str], user: pwd.struct_passwd) -> None:
        env = {
            "PATH": f"{PG_BIN}:/usr/bin:/bin",
            "HOME": user.pw_dir,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "USER": PG_USER,
            "PYTHONUNBUFFERED": "1",
        }
        with open(node.log, "ab") as log:
            self.procs[node.name] = subprocess.Popen(
                [*argv, str(node.dir / "patroni.yml")],
                user=user.pw_uid,
                group=user.pw_gid,
                extra_groups=[],
                cwd=node.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """Stops the writer, then the replicas' Patroni, then the primary's (SIGTERM: Patroni stops
        its PostgreSQL and releases the leader key), each by pid with a bounded wait, SIGKILL
        after; kills any postmaster left (by its pid file), removes the private dir (data dirs
        and all)."""
        t0 = time.monotonic()
        if self.writer is not None:
            self.writer.stop()
        self.monitor.stop()
        primary = self.primary()
        order = [n for n in self.nodes if n.name != primary] + [
            n for n in self.nodes if n.name == primary
        ]
        replicas, last = order[:-1], order[-1:]
        for group in (replicas, last):
            for node in group:
                self._signal(node, signal.SIGTERM)
            for node in group:
                self._reap(node)
        for node in self.nodes:
            self._kill_postmaster(node)
        shutil.rmtree(self.home, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - t0

    def _signal(self, node: Node, sig: int) -> None:
        proc = self.procs.get(node.name)
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, sig)

    def _reap(self, node: Node, timeout: float = 40) -> None:
        proc = self.procs.get(node.name)
        if proc is None:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _kill_postmaster(self, node: Node) -> None:
        pidfile = node.data / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            if not self._alive_postmaster(pid, node):
                return
            os.kill(pid, sig)
            for _ in range(100):  # up to 10 s
                if not self._alive_postmaster(pid, node):
                    return
                time.sleep(0.1)

    @staticmethod
    def _alive_postmaster(pid: int, node: Node) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return str(node.data).encode() in cmdline

    # -- state -------------------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def states(self) -> dict[str, dict]:
        return {n.name: rest_get(f"{n.rest}/patroni")[1] for n in self.nodes}

    def primary(self) -> str | None:
        """The node whose REST API says it runs as the primary (None if not exactly one)."""
        primaries = [
            name
            for name, s in self.states().items()
            if s.get("role") == "primary" and s.get("state") == "running"
        ]
        return primaries[0] if len(primaries) == 1 else None

    def timeline(self) -> int:
        name = wait_until("a primary", self.primary, timeout=60)
        return int(self.states()[str(name)]["timeline"])

    def ready(self) -> str | None:
        """The primary's name when one primary runs and every other node streams from it, on its
        timeline."""
        states = self.states()
        primaries = [
            n
            for n, s in states.items()
            if s.get("role") == "primary" and s.get("state") == "running"
        ]
        if len(primaries) != 1:
            return None
        timeline = states[primaries[0]].get("timeline")
        replicas = [s for n, s in states.items() if n != primaries[0]]
        ok = all(
            s.get("role") == "replica"
            and s.get("state") == "running"
            and s.get("replication_state") == "streaming"
            and s.get("timeline") == timeline
            for s in replicas
        )
        leader = self.leader_key()
        return primaries[0] if ok and leader == primaries[0] else None

    def wait_ready(self, timeout: float = 120) -> str:
        t0 = time.monotonic()
        name = str(
            wait_until("one primary and every replica streaming", self.ready, timeout=timeout)
        )
        self.timings.setdefault("ready", time.monotonic() - t0 + self.timings.get("start", 0))
        return name

    def leader_key(self) -> str | None:
        """The leader key's value as etcd has it (read by etcdctl, not through Patroni)."""
        try:
            out = self.lab.ctl("get", f"{NAMESPACE}{SCOPE}/leader", "--print-value-only")
        except AssertionError:
            return None
        return out.strip() or None

    def connect(self, name: str, timeout: int = 2):  # type: ignore[no-untyped-def]
        import psycopg

        assert name, "no primary"
        return psycopg.connect(
            host=self.node(name).address,
            port=PG_PORT,
            user=PG_USER,
            dbname="postgres",
            connect_timeout=timeout,
            autocommit=True,
            options="-c statement_timeout=3000",
        )

    # -- what a test does --------------------------------------------------------------------------

    def switchover(self, to: str, timeout: float = 90) -> None:
        leader = str(wait_until("a primary", self.primary, timeout=60))
        code, text = rest_post(
            f"{self.node(leader).rest}/switchover", {"leader": leader, "candidate": to}
        )
        assert code == 200, f"switchover {leader} -> {to}: {code} {text}"
        wait_until(
            f"{to} the primary, every other node streaming",
            lambda: self.ready() == to,
            timeout=timeout,
        )

    def stale_leader_snapshot(self) -> StaleLeader:
        """Takes the lab's snapshot (etcdops run snapshot) while node A is the primary and holds the
        leader key, then switches over to node B: a restore of that snapshot brings back a leader
        key that names A while B is the primary."""
        named = self.wait_ready()
        self.lab.etcdops("run", "snapshot", "-i", "lab", "--yes", check=True)
        snaps = sorted(
            (self.lab.root / "snapshots" / "lab").glob("*.db"), key=lambda p: p.stat().st_mtime
        )
        to = next(n.name for n in self.nodes if n.name != named)
        self.switchover(to)
        assert self.leader_key() == to
        return StaleLeader(snaps[-1], named, to)

    def settle(
        self, since: float, at_least: float = TTL + LOOP_WAIT + 5, timeout: float = 180
    ) -> str:
        """Waits until `at_least` seconds after `since` (long enough for a restored lease to expire
        and Patroni to act on it), then until the cluster is ready again; returns the primary."""
        remaining = since + at_least - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return self.wait_ready(timeout=timeout)

    def start_writer(self) -> SqlWriter:
        """A new writer (ids from 1, the table emptied); a writer still running is stopped first."""
        if self.writer is not None:
            self.writer.stop()
        with self.connect(str(wait_until("a primary", self.primary, timeout=60))) as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY,"
                " at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            conn.execute(f"TRUNCATE {TABLE}")
        self.writer = SqlWriter(self)
        self.writer.start()
        wait_until(
            "a first acknowledged row",
            lambda: self.writer and self.writer.acked,
            timeout=30,
            every=0.1,
        )
        return self.writer

    def stop_writer(self) -> SqlWriter:
        assert self.writer is not None
        self.writer.stop()
        return self.writer

    # -- checks ------------------------------------------------------------------------------------

    def failovers(self, since: float = 0.0) -> list[PrimaryChange]:
        with self.monitor.lock:
            return [c for c in self.monitor.primary_changes if c.mono >= since]

    def demotions(self, since: float = 0.0) -> list[RoleChange]:
        with self.monitor.lock:
            return [c for c in self.monitor.role_changes if c.mono >= since and c.old == "primary"]

    def role_changes(self, since: float = 0.0) -> list[RoleChange]:
        with self.monitor.lock:
            return [c for c in self.monitor.role_changes if c.mono >= since]

    def missing_rows(self) -> list[int]:
        """Acknowledged ids that the primary does not have now."""
        assert self.writer is not None
        with self.connect(self.wait_ready()) as conn:
            present = {row[0] for row in conn.execute(f"SELECT id FROM {TABLE}")}
        return [i for i, _ in self.writer.acked if i not in present]

    def acknowledged_rows_present(self) -> bool:
        return not self.missing_rows()

    def longest_write_gap(self, since: float | None = None, until: float | None = None) -> float:
        assert self.writer is not None
        return self.writer.longest_gap(since, until)

    def log_lines(
        self, since_wall: float = 0.0, pattern: re.Pattern[str] = EVENT_LINES
    ) -> list[str]:
        """Patroni's lines about leadership from every node's log, `node: line`, at or after
        since_wall."""
        lines = []
        for node in self.nodes:
            text = node.log.read_text(errors="replace") if node.log.exists() else ""
            for line in text.splitlines():
                stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
                if not stamp or not pattern.search(line):
                    continue
                when = (
                    time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S"))
                    + int(stamp.group(2)) / 1000
                )
                if when >= since_wall - 1:
                    lines.append(f"{node.name}: {line}")
        return sorted(lines, key=lambda s: s.split(": ", 1)[1][:23])
