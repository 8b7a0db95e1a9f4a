"""`make demo`'s script, end to end, as the README's first command runs it: a lab, a snapshot, more
writes, the reviewed restore, the check that exactly the snapshot's keys came back. In a project
root and loopback /24 of its own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import ETCDOPS, make_root, net

pytestmark = pytest.mark.lab


def test_the_demo_restores_exactly_what_the_snapshot_held(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    env = {
        **os.environ,
        "ETCDOPS": str(ETCDOPS),
        "ETCDOPS_LAB_NET": net(15),
        "ETCDOPS_HOME": str(root),
    }
    try:
        proc = subprocess.run(
            ["bash", str(root / "scripts" / "demo.sh")],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        out = proc.stdout
        assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
        after = out[out.index("==> after the restore") :]
        assert (
            "/demo/before-1" in after
            and "/demo/after-1" not in after.split("==> the old data dirs")[0]
        )
        moved = out[out.index("==> the old data dirs") : out.index("==> demo done")]
        assert moved.count(".pre-restore-") == 3  # the old data dirs, moved aside on every member
        dirs = [root / line for line in moved.splitlines() if line.startswith(".lab/")]
        assert len(dirs) == 3 and all(d.is_dir() for d in dirs)
        assert f"https://{net(15)}1:2379" in out  # its own /24, TLS as the lab runs
    finally:
        subprocess.run(
            [str(ETCDOPS), "lab", "down"], cwd=root, env=env, capture_output=True, timeout=120
        )
