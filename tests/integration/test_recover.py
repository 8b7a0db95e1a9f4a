"""recover on the real lab (issue 31.1): two of three members lost (etcd killed, data dirs moved
away by the test), the cluster brought back from the survivor with every acknowledged write; a
healthy cluster refused; reachable stopped members refused without -p force; kill -9 mid-run
and --resume; a dead host left out. A writer runs across each loss and recovery."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from tests.integration.helpers import (
    LabEnv,
    Writer,
    kill_at,
    net,
    running_lab,
    runs,
    start,
)

pytestmark = pytest.mark.lab

NET = net(25)
HOSTS = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def rlab(tmp_path_factory: pytest.TempPathFactory) -> LabEnv:
    with running_lab(tmp_path_factory.mktemp("recover"), NET) as lab:
        yield lab


def _env(lab: LabEnv, host: str) -> Path:
    return lab.host_root(host) / "etc" / "etcd" / "etcd.env"


def _data(lab: LabEnv, host: str) -> Path:
    return lab.host_root(host) / "var" / "lib" / "etcd"


def _digest(lab: LabEnv) -> dict[str, str]:
    """What a run must leave as it was: every member's etcd.env and the listing of /var/lib."""
    out = {}
    for host in HOSTS:
        out[f"{host} env"] = hashlib.sha256(_env(lab, host).read_bytes()).hexdigest()
        out[f"{host} lib"] = " ".join(sorted(p.name for p in _data(lab, host).parent.iterdir()))
    return out


def _settled(lab: LabEnv) -> None:
    """Every member has applied the same index: what was acknowledged is on the survivor too."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        applied = {e["applied_index"] for e in lab.status()["endpoints"]}
        if len(applied) == 1 and None not in applied:
            return
        time.sleep(0.2)
    raise AssertionError(f"the members never agreed on an applied index: {applied}")


def _present(lab: LabEnv, acked: list[int]) -> None:
    keys = lab.ctl("get", "w/", "--prefix", "--keys-only").split()
    have = {int(k.split("/")[1]) for k in keys if k.startswith("w/")}
    missing = [i for i in acked if i not in have]
    assert not missing, f"{len(missing)} acknowledged writes are missing, e.g. {missing[:5]}"


def _three_healthy(lab: LabEnv) -> None:
    status = lab.wait_healthy()
    voters = sorted(m["name"] for m in status["members"] if m["role"] == "voter")
    assert voters == list(HOSTS), status["members"]
    for host in HOSTS:
        assert "ETCD_FORCE_NEW_CLUSTER" not in _env(lab, host).read_text()


def test_a_healthy_cluster_is_never_recovered(rlab: LabEnv) -> None:
    before = _digest(rlab)
    proc = rlab.etcdops("run", "recover", "-i", "lab", "--yes", "-p", "force=true")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "the cluster has a quorum: recover is refused" in proc.stdout + proc.stderr
    assert _digest(rlab) == before
    rlab.wait_healthy()


def test_two_members_lost_are_recovered_from_the_survivor(rlab: LabEnv, tmp_path: Path) -> None:
    endpoints = [rlab.client_url(h) for h in HOSTS]
    first = Writer(rlab, tmp_path / "before.json", endpoints)
    time.sleep(3)
    before = first.stop()
    _settled(rlab)
    rlab.lose(("node2", "node3"), "a")

    # the hosts are reachable and etcd is stopped there: starting it could be the answer
    refused = rlab.etcdops("plan", "recover", "-i", "lab")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "-p force=true recovers anyway" in refused.stdout
    status = json.loads(rlab.etcdops("status", "-i", "lab", "-o", "json").stdout)
    assert status["members_from"] == "node1" and status["voters"] == 3
    assert not status["has_quorum"]

    during = Writer(rlab, tmp_path / "during.json", endpoints)
    proc = rlab.etcdops("run", "recover", "-i", "lab", "--yes", "-p", "force=true", timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = during.stop()
    _three_healthy(rlab)
    _present(rlab, before["acked"] + after["acked"])
    assert after["acked"], "no write succeeded once the survivor served again"
    print(
        f"\nrecover: writes stalled at most {after['longest_stall']}s "
        f"({len(after['acked'])} acknowledged of {after['attempted']})"
    )
    # the survivor's data kept (a whole copy, marked), a snapshot saved; nothing deleted
    aside = [p for p in _data(rlab, "node1").parent.iterdir() if ".pre-recover-" in p.name]
    assert len(aside) == 1 and (aside[0] / ".etcdops-set-aside.json").is_file()
    assert (aside[0] / "member" / "snap" / "db").is_file()
    assert list((rlab.root / "snapshots" / "lab").glob("*pre-recover*.db"))
    for host in ("node2", "node3"):
        assert (rlab.host_root(host) / "lost-a").is_dir()


@pytest.mark.parametrize("step", [5, 12])
def test_kill_during_recover_then_resume(rlab: LabEnv, tmp_path: Path, step: int) -> None:
    _three_healthy(rlab)
    _settled(rlab)
    for i in range(50):
        rlab.ctl("put", f"keep{step}/{i:02d}", str(i))
    _settled(rlab)
    rlab.lose(("node2", "node3"), f"k{step}")
    before = runs(rlab)
    proc = start(rlab, "recover", "-p", "force=true")
    run_id = kill_at(rlab, proc, before, "step_started", step)
    resumed = rlab.etcdops("run", "--resume", run_id, "--yes", timeout=900)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _three_healthy(rlab)
    assert len(rlab.ctl("get", f"keep{step}/", "--prefix", "--keys-only").split()) == 50
    for host in ("node2", "node3"):
        assert (rlab.host_root(host) / f"lost-k{step}").is_dir()


def test_a_dead_host_is_left_out_and_said(rlab: LabEnv) -> None:
    _three_healthy(rlab)
    _settled(rlab)
    rlab.kill_host("node3")  # etcd and sshd gone: the machine is dead
    rlab.lose(("node2",), "d")
    proc = rlab.etcdops("run", "recover", "-i", "lab", "--yes", "-p", "force=true", timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "left out (cannot be reached over SSH; add them later with scale-out): node3" in (
        proc.stdout
    )
    members = rlab.ctl("member", "list", "-w", "json")
    names = sorted(m.get("name", "") for m in json.loads(members)["members"])
    assert names == ["node1", "node2"]
