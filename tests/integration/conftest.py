"""The real lab for integration tests: its own project root and its own loopback /24
(127.0.3.N), so a user's lab on 127.0.1.N is never touched. Brought up once per session."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NET = "127.0.3."
ETCDOPS = REPO / ".venv" / "bin" / "etcdops"


@dataclass
class LabEnv:
    root: Path
    env: dict[str, str]
    net: str = NET

    def etcdops(self, *args: str, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(ETCDOPS), *args], cwd=self.root, env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"etcdops {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def host_root(self, name: str) -> Path:
        return self.root / ".lab" / "hosts" / name

    def ctl(self, *args: str, endpoints: str | None = None) -> str:
        eps = endpoints or ",".join(f"http://{self.net}{i}:2379" for i in (1, 2, 3))
        proc = subprocess.run([str(self.host_root("node1") / "bin" / "etcdctl"), f"--endpoints={eps}",
                               "--dial-timeout=2s", "--command-timeout=10s", *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def status(self) -> dict:
        return json.loads(self.etcdops("status", "-i", "lab", "-o", "json", check=True).stdout)

    def set_members(self, names: list[str]) -> None:
        """What the operator does after a membership change: the etcd group lists the members."""
        hosts = sorted(p.name for p in (self.root / ".lab" / "hosts").iterdir())
        groups = {"etcd": [h for h in hosts if h in names], "spares": [h for h in hosts if h not in names]}
        lines = ["all:", "  children:"]
        for group, members in groups.items():
            lines += [f"    {group}:", "      hosts:" if members else "      hosts: {}"]
            lines += [f"        {h}:\n          ansible_host: {self.net}{h.removeprefix('node')}" for h in members]
        (self.root / "inventories" / "lab" / "hosts.yml").write_text("\n".join(lines) + "\n")

    def client_url(self, name: str) -> str:
        return f"http://{self.net}{name.removeprefix('node')}:2379"

    def service(self, name: str, action: str) -> None:
        subprocess.run([str(self.host_root(name) / "bin" / "etcd-service"), action], check=True,
                       capture_output=True, timeout=60)

    def kill_host(self, name: str) -> None:
        """The machine dies: its etcd and its sshd are gone (SIGKILL, by the lab's pid files)."""
        for what in ("etcd", "sshd"):
            pidfile = self.host_root(name) / "run" / f"{what}.pid"
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.etcdops("status", "-i", "lab", "-o", "json")
            if proc.returncode == 0 and json.loads(proc.stdout)["healthy"]:
                return json.loads(proc.stdout)
            assert time.monotonic() < deadline, f"cluster not healthy after {timeout}s:\n{proc.stdout}"
            time.sleep(0.5)


def make_root(tmp: Path) -> Path:
    root = tmp / "project"
    (root / "inventories" / "lab").mkdir(parents=True)
    shutil.copytree(REPO / "inventories" / "lab" / "group_vars", root / "inventories" / "lab" / "group_vars")
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
def running_lab(tmp: Path, net: str, members: int = 3, spares: int = 2,
                extra_vars: dict[str, object] | None = None, env: dict[str, str] | None = None) -> Iterator[LabEnv]:
    """A lab of its own (project root, loopback /24), stopped by pid at the end."""
    root = make_root(tmp)
    if extra_vars:
        with open(root / "inventories" / "lab" / "group_vars" / "all.yml", "a") as fh:
            fh.write("".join(f"\n{k}: {json.dumps(v)}" for k, v in extra_vars.items()) + "\n")
    labenv = LabEnv(root, {**os.environ, **(env or {}), "ETCDOPS_HOME": str(root), "ETCDOPS_LAB_NET": net}, net)
    try:
        labenv.etcdops("lab", "up", "--members", str(members), "--spares", str(spares), check=True, timeout=120)
        yield labenv
    finally:
        labenv.etcdops("lab", "down", timeout=120)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("lab"), NET) as labenv:
        yield labenv
