"""The real lab for integration tests: its own project root and its own loopback /24
(127.0.3.N), so a user's lab on 127.0.1.N is never touched. Brought up once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
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

    def etcdops(self, *args: str, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(ETCDOPS), *args], cwd=self.root, env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"etcdops {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def host_root(self, name: str) -> Path:
        return self.root / ".lab" / "hosts" / name

    def ctl(self, *args: str, endpoints: str | None = None) -> str:
        eps = endpoints or ",".join(f"http://{NET}{i}:2379" for i in (1, 2, 3))
        proc = subprocess.run([str(self.host_root("node1") / "bin" / "etcdctl"), f"--endpoints={eps}",
                               "--dial-timeout=2s", "--command-timeout=10s", *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def status(self) -> dict:
        return json.loads(self.etcdops("status", "-i", "lab", "-o", "json", check=True).stdout)


def make_root(tmp: Path) -> Path:
    root = tmp / "project"
    (root / "inventories" / "lab").mkdir(parents=True)
    shutil.copytree(REPO / "inventories" / "lab" / "group_vars", root / "inventories" / "lab" / "group_vars")
    for name in ("runbooks", "playbooks", "scripts"):
        (root / name).symlink_to(REPO / name)
    (root / ".tools").symlink_to(REPO / ".tools")
    return root


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    root = make_root(tmp_path_factory.mktemp("lab"))
    env = {**os.environ, "ETCDOPS_HOME": str(root), "ETCDOPS_LAB_NET": NET}
    labenv = LabEnv(root, env)
    labenv.etcdops("lab", "up", check=True, timeout=120)
    try:
        yield labenv
    finally:
        labenv.etcdops("lab", "down", timeout=120)
