"""Every built-in runbook, run for real on a lab whose inventory, snapshot names and snapshot
metadata
carry shell syntax, with shell syntax in every text param: nothing of it may ever run.

The hostile text tries four ways into a shell ($(...), backticks, ;, |); each would create a marker
file (in the remote shell's working directory, or the control node's). After every run the test
looks for the markers everywhere they could appear: the hosts' home and working directories, the
project, the lab's roots and /tmp.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import LabEnv, net, running_lab

pytestmark = pytest.mark.lab
TAG = f"pwned{secrets.token_hex(3)}"
EVIL = f"x$(touch${{IFS}}{TAG}a)`touch${{IFS}}{TAG}b`;touch${{IFS}}{TAG}c;|touch${{IFS}}{TAG}d"
HOSTILE_VARS = {
    # inventory strings that reach commands: member names and data dirs (under the lab's host roots)
    "etcd_name": "{{ inventory_hostname }}-" + EVIL,
    "etcd_data_dir": "{{ host_root }}/var/lib/etcd-" + EVIL,
}


def markers(lab: LabEnv, extra: list[Path]) -> list[str]:
    places = [Path.home(), Path("/"), Path("/tmp"), lab.root, *extra]
    found = [str(p / f"{TAG}{x}") for p in places for x in "abcd" if (p / f"{TAG}{x}").exists()]
    search = subprocess.run(
        ["find", str(lab.root), "/tmp", "-xdev", "-name", f"{TAG}*"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # a file whose own name holds the hostile text legitimately contains TAG: only the bare markers
    # count
    found += [line for line in search.stdout.splitlines() if Path(line).name.startswith(TAG)]
    return found


def run(lab: LabEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.etcdops("run", *args, "-i", "lab", "--yes", timeout=600)


def test_hostile_values_everywhere_run_nothing(tmp_path: Path) -> None:
    with running_lab(tmp_path, net(11), members=3, spares=2, extra_vars=HOSTILE_VARS) as lab:
        status = lab.wait_healthy()
        assert all(EVIL in m["name"] for m in status["members"]), status["members"]
        assert not markers(lab, [])

        # snapshot into a directory with a hostile name
        dest = tmp_path / f"snaps-{EVIL}"
        snap = run(lab, "snapshot", "-p", f"dest={dest}")
        assert snap.returncode == 0, snap.stdout + snap.stderr
        saved = next(dest.glob("*.db"))
        lab.ctl("put", "/hostile/after-snapshot", "1")

        # a valid snapshot with a hostile file name, and hostile text in every string of its
        # metadata
        hostile = tmp_path / f"{EVIL}.db"
        shutil.copyfile(saved, hostile)
        meta = json.loads(saved.with_suffix(".json").read_text())
        meta.update({k: EVIL for k in ("cluster_id", "members", "etcd_version", "time", "source")})
        hostile.with_suffix(".json").write_text(json.dumps(meta))
        restore = run(lab, "restore", "-p", f"snapshot={hostile}")
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert EVIL in restore.stdout  # shown literally
        assert (
            lab.ctl("get", "/hostile/", "--prefix", "--keys-only").split() == []
        )  # the snapshot's content
        assert not markers(lab, [tmp_path])

        # metadata whose key count is shell text is refused before anything is touched (exit 3)
        meta["keys"] = f"$(touch${{IFS}}{TAG}a)"
        hostile.with_suffix(".json").write_text(json.dumps(meta))
        refused = run(lab, "restore", "-p", f"snapshot={hostile}")
        assert refused.returncode == 3 and "keys is not a whole number" in refused.stderr, (
            refused.stderr
        )

        # every text param of every built-in runbook, hostile: refused or taken literally, never run
        for book, param in (
            ("snapshot", "from"),
            ("restore", "token"),
            ("restore", "dir"),
            ("compact-defrag", "rule"),
            ("restore", "snapshot"),
        ):
            proc = run(lab, book, "-p", f"{param}={EVIL}")
            assert proc.returncode in (2, 3), (book, param, proc.returncode, proc.stderr)
        lab.wait_healthy()

        # membership and maintenance runbooks with the hostile names and data dirs
        out = run(lab, "scale-out", "-p", "host=node4")
        assert out.returncode == 0, out.stdout + out.stderr
        lab.set_members(["node1", "node2", "node3", "node4"])
        replace = run(lab, "replace-member", "-p", "old=node3", "-p", "new=node5")
        assert replace.returncode == 0, replace.stdout + replace.stderr
        lab.set_members(["node1", "node2", "node4", "node5"])
        assert list(
            (lab.host_root("node3") / "var" / "lib").glob("etcd-*.removed-*")
        )  # moved aside, not deleted
        scale_in = run(lab, "scale-in", "-p", "host=node4")
        assert scale_in.returncode == 0, scale_in.stdout + scale_in.stderr
        lab.set_members(["node1", "node2", "node5"])
        compact = run(lab, "compact-defrag", "-p", "rule=always")
        assert compact.returncode == 0, compact.stdout + compact.stderr
        assert run(lab, "status").returncode == 0
        assert lab.wait_healthy()["voters"] == 3
        found = markers(lab, [tmp_path] + [lab.host_root(f"node{i}") for i in range(1, 6)])
        assert not found, found
