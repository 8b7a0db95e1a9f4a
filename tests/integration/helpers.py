"""What the integration tests share: the real lab (its own project root and loopback /24), ways to
drive etcdops against it, a continuous writer, a fill, journal watching. Test files import from
here, never from each other."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def net(n: int) -> str:
    """The loopback /24 127.OCTET.N. of one test lab: OCTET is ETCDOPS_TEST_OCTET (default 0), so
    that several clones can run the suite at once, each on its own nets."""
    return f"127.{OCTET}.{n}."


OCTET = int(os.environ.get("ETCDOPS_TEST_OCTET", "0"))
if not 0 <= OCTET <= 254:
    raise ValueError(f"ETCDOPS_TEST_OCTET={OCTET}: a loopback octet 0-254")
NET = net(3)


ETCDOPS = REPO / ".venv" / "bin" / "etcdops"


class SecretWatch:
    """Samples every process's arguments (/proc/*/cmdline, world-readable) on this machine, which
    runs every lab host, looking for a secret: what any local user on a member could read. And the
    environment (/proc/*/environ) of every process a lab host's sshd started (SSH_CONNECTION names
    the lab's net) that is not etcdctl or etcdutl: the password is passed to etcdctl only, never
    exported to the rest of a remote script (curl, df, stat, awk...)."""

    TOOLS = (b"etcdctl", b"etcdutl")

    def __init__(self, secret: str, net: str = "") -> None:
        self.secret = secret.encode()
        self.net = net.encode()
        self.seen: list[str] = []
        self.seen_env: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    cmdline = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if self.secret in cmdline:
                    self.seen.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:300])
                if self.net:
                    self._environ(proc, cmdline)
            self.samples += 1
            time.sleep(0.002)

    def _environ(self, proc: Path, cmdline: bytes) -> None:
        try:
            environ = (proc / "environ").read_bytes()
            comm = (proc / "comm").read_bytes().strip()
        except OSError:
            return
        if self.secret not in environ or comm in self.TOOLS:
            return
        ssh = next((v for v in environ.split(b"\0") if v.startswith(b"SSH_CONNECTION=")), b"")
        if self.net not in ssh:  # not a command of a lab host (the test's own writer, say)
            return
        shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:160]
        self.seen_env.append(f"{comm.decode(errors='replace')}: {shown}")

    def __enter__(self) -> SecretWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class LabEnv:
    root: Path
    env: dict[str, str]
    net: str = NET
    # the lab's default: TLS with client certificates, kubespray's layout, INI inventory
    tls: bool = True
    password: str | None = None  # etcd auth is enabled with user root and this password
    # with auth: every process's arguments, sampled for the password
    watch: SecretWatch | None = None

    def etcdops(
        self, *args: str, check: bool = False, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(ETCDOPS), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        self.check_secret()
        if check and proc.returncode != 0:
            raise AssertionError(
                f"etcdops {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def check_secret(self) -> None:
        if self.watch is not None:
            assert not self.watch.seen, (
                f"the etcd password is on a process list: {self.watch.seen[:3]}"
            )
            leaks = sorted(set(self.watch.seen_env))
            assert not leaks, (
                f"the etcd password is in the environment of {len(leaks)} remote processes that "
                f"are not etcdctl/etcdutl, e.g. {leaks[:5]}"
            )

    @property
    def ctl_env(self) -> dict[str, str]:
        """The test's own etcdctl and clients: credentials (and client certificates) in the
        environment."""
        env = {**os.environ, **({"ETCDCTL_USER": f"root:{self.password}"} if self.password else {})}
        if self.tls:
            certs = self.host_root("node1") / "etc" / "ssl" / "etcd" / "ssl"
            env.update(
                ETCDCTL_CACERT=str(certs / "ca.pem"),
                ETCDCTL_CERT=str(certs / "admin-node1.pem"),
                ETCDCTL_KEY=str(certs / "admin-node1-key.pem"),
            )
        return env

    def host_root(self, name: str) -> Path:
        return self.root / ".lab" / "hosts" / name

    def ctl(self, *args: str, endpoints: str | None = None) -> str:
        eps = endpoints or ",".join(self.client_url(f"node{i}") for i in (1, 2, 3))
        proc = subprocess.run(
            [
                str(self.host_root("node1") / "bin" / "etcdctl"),
                f"--endpoints={eps}",
                "--dial-timeout=2s",
                "--command-timeout=10s",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=self.ctl_env,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def status(self) -> dict:
        return json.loads(self.etcdops("status", "-i", "lab", "-o", "json", check=True).stdout)

    def set_members(self, names: list[str]) -> None:
        """What the operator does after a membership change: the etcd group lists the members (in
        the inventory's own format: INI on a TLS lab, YAML on a plaintext one)."""
        hosts = sorted(p.name for p in (self.root / ".lab" / "hosts").iterdir())
        groups = {
            "etcd": [h for h in hosts if h in names],
            "spares": [h for h in hosts if h not in names],
        }
        inv = self.root / "inventories" / "lab"
        if (inv / "inventory.ini").exists():
            lines = []
            for group, members in groups.items():
                lines += [f"[{group}]"] + [
                    f"{h} ansible_host={self.address(h)} ip={self.address(h)}" for h in members
                ]
            (inv / "inventory.ini").write_text("\n".join(lines) + "\n")
            return
        lines = ["all:", "  children:"]
        for group, members in groups.items():
            lines += [f"    {group}:", "      hosts:" if members else "      hosts: {}"]
            lines += [f"        {h}:\n          ansible_host: {self.address(h)}" for h in members]
        (inv / "hosts.yml").write_text("\n".join(lines) + "\n")

    def inventory_of(self, name: str, members: list[str]) -> None:
        """inventories/NAME: the lab's inventory (its group_vars, TLS or not) with an etcd group of
        those hosts only, the others spares."""
        src, dest = self.root / "inventories" / "lab", self.root / "inventories" / name
        shutil.copytree(src, dest, dirs_exist_ok=True)
        hosts = sorted(p.name for p in (self.root / ".lab" / "hosts").iterdir())
        if (dest / "inventory.ini").exists():
            lines = []
            for group, names in (
                ("etcd", members),
                ("spares", [h for h in hosts if h not in members]),
            ):
                lines += [f"[{group}]"]
                lines += [f"{h} ansible_host={self.address(h)} ip={self.address(h)}" for h in names]
            (dest / "inventory.ini").write_text("\n".join(lines) + "\n")
            return
        lines = ["all:", "  children:", "    etcd:", "      hosts:"]
        lines += [f"        {h}:\n          ansible_host: {self.address(h)}" for h in members]
        lines += ["    spares:", "      hosts:"]
        others = [h for h in hosts if h not in members]
        lines += [f"        {h}:\n          ansible_host: {self.address(h)}" for h in others]
        (dest / "hosts.yml").write_text("\n".join(lines) + "\n")

    def address(self, name: str) -> str:
        return f"{self.net}{name.removeprefix('node')}"

    def client_url(self, name: str) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address(name)}:2379"

    def service(self, name: str, action: str) -> None:
        subprocess.run(
            [str(self.host_root(name) / "bin" / "etcd-service"), action],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def kill_host(self, name: str) -> None:
        """The machine dies: its etcd and its sshd are gone (SIGKILL, by the lab's pid files)."""
        for what in ("etcd", "sshd"):
            pidfile = self.host_root(name) / "run" / f"{what}.pid"
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def lose(self, hosts: tuple[str, ...], tag: str) -> None:
        """Those members are gone for good: etcd killed (SIGKILL, by the lab's pid files), the
        data dir moved away as `lost-TAG` under the host's root (kept, out of etcdops' sight)."""
        for host in hosts:
            pid = int((self.host_root(host) / "run" / "etcd.pid").read_text())
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        for host in hosts:
            data = self.host_root(host) / "var" / "lib" / "etcd"
            shutil.move(data, self.host_root(host) / f"lost-{tag}")
        # a leader that lost its quorum steps down an election timeout (1 s on the lab) later
        deadline = time.monotonic() + 30
        while json.loads(self.etcdops("status", "-i", "lab", "-o", "json").stdout)["leader"]:
            assert time.monotonic() < deadline, "the survivor still leads after 30 s"
            time.sleep(0.5)

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.etcdops("status", "-i", "lab", "-o", "json")
            if proc.returncode == 0 and json.loads(proc.stdout)["healthy"]:
                return json.loads(proc.stdout)
            assert time.monotonic() < deadline, (
                f"cluster not healthy after {timeout}s:\n{proc.stdout}"
            )
            time.sleep(0.5)


def make_root(tmp: Path) -> Path:
    root = tmp / "project"
    (root / "inventories" / "lab" / "group_vars" / "all").mkdir(parents=True)
    lab_vars = (
        REPO / "inventories" / "lab" / "group_vars" / "all" / "00-lab.yml"
    )  # only what is committed
    shutil.copyfile(lab_vars, root / "inventories" / "lab" / "group_vars" / "all" / lab_vars.name)
    for name in ("runbooks", "playbooks", "scripts"):
        (root / name).symlink_to(REPO / name)
    (root / ".tools").symlink_to(REPO / ".tools")
    return root


@contextmanager
def frozen(pidfile: Path) -> Iterator[None]:
    """The process hangs (SIGSTOP) while inside; it always gets SIGCONT on the way out."""
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextmanager
def running_lab(
    tmp: Path,
    net: str,
    members: int = 3,
    spares: int = 2,
    extra_vars: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
    auth: bool = False,
    tls: bool = True,
) -> Iterator[LabEnv]:
    """A lab of its own (project root, loopback /24), stopped by pid at the end. TLS by default (as
    `lab up`), or plaintext. With auth, etcd auth is enabled (user root) once the lab is up, and
    the inventory gets etcd_user / etcd_password."""
    root = make_root(tmp)
    if extra_vars:
        append_vars(root, extra_vars)
    labenv = LabEnv(
        root,
        {**os.environ, **(env or {}), "ETCDOPS_HOME": str(root), "ETCDOPS_LAB_NET": net},
        net,
        tls=tls,
    )
    try:
        labenv.etcdops(
            "lab",
            "up",
            "--members",
            str(members),
            "--spares",
            str(spares),
            *([] if tls else ["--plaintext"]),
            check=True,
            timeout=180,
        )
        if auth:
            enable_auth(labenv, "pw-" + secrets.token_hex(8))
            labenv.watch = SecretWatch(labenv.password or "", net).__enter__()
        yield labenv
    finally:
        if labenv.watch is not None:
            labenv.watch.__exit__()
        labenv.etcdops("lab", "down", timeout=120)
        shutil.rmtree(root / ".lab", ignore_errors=True)  # the lab's data dirs (GBs over a session)
        shutil.rmtree(root / "snapshots", ignore_errors=True)
    unplanned = unplanned_commands(root)
    assert not unplanned, "commands a run executed that its plan does not show:\n" + "\n".join(
        unplanned
    )
    if labenv.watch is not None:
        assert labenv.watch.samples > 100, (
            f"the process lists were sampled only {labenv.watch.samples} times"
        )
        labenv.check_secret()


def planned_pattern(display: str) -> re.Pattern[str]:
    """A planned command as a pattern: its placeholders (`<NAME>`) stand for any value."""
    parts = re.split(r"<[A-Z][A-Z0-9_]*>", display)
    return re.compile(".+".join(re.escape(p) for p in parts), re.S)


def unplanned_commands(root: Path, runs: Path | None = None) -> list[str]:
    """Every command the journals under root/.etcdops/runs/ (or runs) show a run executed that no
    action of its step planned (a change among the commands, a read among the reads)."""
    found = []
    for run_dir in sorted((runs or root / ".etcdops" / "runs").glob("*")):
        plan_file = run_dir / "plan.json"
        if not plan_file.is_file():
            continue
        try:
            lines = (run_dir / "events.jsonl").read_text().splitlines()
        except FileNotFoundError:  # refused before it ran anything (the cluster lock, say)
            continue
        steps = {s["index"]: s for s in json.loads(plan_file.read_text())["steps"]}
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill -9
            if event.get("event") != "command":
                continue
            group = "reads" if event.get("read") else "commands"
            planned = [c for a in steps[event["step"]]["actions"] for c in a.get(group, [])]
            # as the plan shows it (placeholders standing for any value), or filled from a template
            # the plan shows (a read may then ask other members than planned: etcd's gateway)
            origin = event.get("planned")
            ok = any(planned_pattern(c).fullmatch(event["command"]) for c in planned) or (
                origin in planned
                and (group == "reads" or planned_pattern(origin).fullmatch(event["command"]))
            )
            if not ok:
                found.append(f"{run_dir.name} step {event['step']} ({group}): {event['command']}")
    return found


def append_vars(root: Path, values: dict[str, object]) -> None:
    with open(root / "inventories" / "lab" / "group_vars" / "all" / "90-test.yml", "a") as fh:
        fh.write("".join(f"\n{k}: {json.dumps(v)}" for k, v in values.items()) + "\n")


def enable_auth(lab: LabEnv, password: str) -> None:
    ctl = [
        str(lab.host_root("node1") / "bin" / "etcdctl"),
        f"--endpoints={lab.client_url('node1')}",
    ]
    for args in (
        ["role", "add", "root"],
        ["user", "add", "root", "--new-user-password", password],
        ["user", "grant-role", "root", "root"],
        ["auth", "enable"],
    ):
        subprocess.run([*ctl, *args], check=True, capture_output=True, timeout=30, env=lab.ctl_env)
    append_vars(lab.root, {"etcd_user": "root", "etcd_password": password})
    lab.password = password


def start(lab: LabEnv, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ETCDOPS), "run", *args, "-i", "lab", "--yes"],
        cwd=lab.root,
        env=lab.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def newest_run(lab: LabEnv, after: set[str]) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = lab.root / ".etcdops" / "runs"
        new = [p for p in runs.iterdir() if p.name not in after] if runs.is_dir() else []
        if new:
            return new[0]
        time.sleep(0.1)
    raise AssertionError("no new run appeared")


def runs(lab: LabEnv) -> set[str]:
    folder = lab.root / ".etcdops" / "runs"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def journal_has(run_dir: Path, event: str, step: int) -> bool:
    path = run_dir / "events.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line being written right now
            continue
        if record.get("event") == event and record.get("step") == step:
            return True
    return False


def wait_for_event(
    run_dir: Path, event: str, step: int, timeout: float = 300, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal_has(run_dir, event, step):
            return
        time.sleep(every)
    raise AssertionError(f"{event} of step {step} never came")


def kill_at(
    lab: LabEnv, proc: subprocess.Popen[str], before: set[str], event: str, step: int
) -> str:
    """kill -9 the runner as soon as its journal shows `event` for `step`; returns the run id."""
    run_dir = newest_run(lab, before)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if journal_has(run_dir, event, step):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return run_dir.name
        assert proc.poll() is None, f"the run ended before step {step}: {proc.communicate()}"
        time.sleep(0.05)
    raise AssertionError(f"step {step} never reached")


def sshd_tree(lab: LabEnv, host: str) -> list[int]:
    """The host's sshd listener and every session process under it."""
    root = int((lab.host_root(host) / "run" / "sshd.pid").read_text())
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parents[int(proc.name)] = int(
                    (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError, IndexError):
                continue
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += [p for p, pp in parents.items() if pp == pid]
    return tree


def kill_sshd(lab: LabEnv, host: str) -> None:
    for pid in sshd_tree(lab, host):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_sshd(lab: LabEnv, host: str) -> None:
    root = lab.host_root(host)
    subprocess.run(
        [
            "/usr/sbin/sshd",
            "-f",
            str(root / "ssh" / "sshd_config"),
            "-E",
            str(root / "var" / "log" / "sshd.log"),
        ],
        check=True,
        timeout=30,
    )
    time.sleep(0.3)


FILL = Path(__file__).with_name("fill.py")


def fill(
    lab: LabEnv, keys: int, rounds: int, size: int, prefix: str = "fill/"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(FILL),
            lab.client_url("node1"),
            str(keys),
            str(rounds),
            str(size),
            prefix,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=lab.ctl_env,
    )


def check_report_files(report: Path, junit: Path, steps: int, failures: int) -> None:
    """The JSON report matches its documented schema; the JUnit file parses as JUnit XML."""
    import jsonschema
    from junitparser import Failure, JUnitXml

    schema = json.loads((REPO / "docs" / "report.schema.json").read_text())
    jsonschema.validate(json.loads(report.read_text()), schema)
    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == steps
    assert sum(1 for case in cases for r in case.result if isinstance(r, Failure)) == failures


WRITER = Path(__file__).with_name("writer.py")


STALL_BOUND = 15.0  # seconds; measured stalls are reported in the test output


class Writer:
    def __init__(self, lab: LabEnv, out: Path, endpoints: list[str]) -> None:
        self.lab, self.out = lab, out
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(out), *endpoints], cwd=REPO, env=lab.ctl_env
        )
        time.sleep(1.0)

    def stop(self) -> dict:
        self.out.with_name(self.out.name + ".stop").touch()
        self.proc.wait(timeout=30)
        return json.loads(self.out.read_text())


def voters(lab: LabEnv) -> list[str]:
    status = lab.wait_healthy()
    return sorted(m["name"] for m in status["members"] if m["role"] == "voter")


def check_writes(lab: LabEnv, result: dict, endpoint: str) -> None:
    assert result["acked"], f"the writer got no write acknowledged: {result}"
    keys = lab.ctl("get", "w/", "--prefix", "--keys-only", endpoints=endpoint).split()
    present = {int(k.split("/")[1]) for k in keys if k.startswith("w/")}
    missing = [i for i in result["acked"] if i not in present]
    assert not missing, f"{len(missing)} acknowledged writes are missing, e.g. {missing[:5]}"
    print(
        f"\nwriter: {len(result['acked'])} acknowledged of {result['attempted']}, "
        f"{result['failures']} failed, longest write stall {result['longest_stall']}s"
    )
    assert result["longest_stall"] < STALL_BOUND
