"""Unattended runs on a lab of their own (127.OCTET.8.N, see helpers.net): kill -9 and --resume
(restore, scale-out), the cluster lock, reviewed plans made stale, the maintenance window,
reports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    LabEnv,
    check_report_files,
    kill_at,
    net,
    newest_run,
    running_lab,
    runs,
    start,
)

pytestmark = pytest.mark.lab
LOCK_TTL = "4"
SLOW = """name: slow
description: sleeps on one member, holding the cluster lock
steps:
  - name: Sleep
    target: "host:node1"
    timeout: 60
    command:
      run: sleep 6
"""


@pytest.fixture(scope="module")
def ulab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("unattended"), net(8)) as labenv:
        labenv.env["ETCDOPS_LOCK_TTL"] = LOCK_TTL
        (labenv.root / "my-runbooks").mkdir()
        (labenv.root / "my-runbooks" / "slow.yml").write_text(SLOW)
        yield labenv


def test_outside_the_window_nothing_is_touched(ulab: LabEnv) -> None:
    before = runs(ulab)
    now = time.gmtime()
    other_day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(now.tm_wday + 3) % 7]
    proc = ulab.etcdops(
        "run",
        "scale-out",
        "-i",
        "lab",
        "--yes",
        "-p",
        "host=node4",
        "--window",
        f"{other_day} 01:00-02:00 UTC",
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "outside the maintenance window" in proc.stderr
    assert runs(ulab) == before and len(ulab.wait_healthy()["members"]) == 3


def test_the_cluster_lock(ulab: LabEnv) -> None:
    before = runs(ulab)
    first = start(ulab, "slow", "--runbooks", "my-runbooks")
    holder = newest_run(ulab, before).name
    time.sleep(1.5)
    second = ulab.etcdops("run", "slow", "-i", "lab", "--yes", "--runbooks", "my-runbooks")
    assert second.returncode == 4, second.stdout + second.stderr
    assert f"run {holder}" in second.stderr and "slow" in second.stderr and "since" in second.stderr
    assert first.wait(timeout=60) == 0
    # the first run released the lock: the next one gets it
    again = ulab.etcdops("run", "status", "-i", "lab", "--yes")
    assert again.returncode == 0, again.stderr
    # a runner killed without releasing: refused at first, then the lease expires
    before = runs(ulab)
    killed = start(ulab, "slow", "--runbooks", "my-runbooks")
    kill_at(ulab, killed, before, "step_started", 1)
    refused = ulab.etcdops("run", "slow", "-i", "lab", "--yes", "--runbooks", "my-runbooks")
    assert refused.returncode == 4, refused.stderr
    time.sleep(int(LOCK_TTL) + 2)
    later = ulab.etcdops("run", "slow", "-i", "lab", "--yes", "--runbooks", "my-runbooks")
    assert later.returncode == 0, later.stdout + later.stderr


def test_kill_during_restore_then_resume(ulab: LabEnv, tmp_path: Path) -> None:
    for i in range(200):
        ulab.ctl("put", f"keep/{i:03d}", str(i))
    assert ulab.etcdops("run", "snapshot", "-i", "lab", "--yes").returncode == 0
    before = runs(ulab)
    proc = start(ulab, "restore")
    run_id = kill_at(ulab, proc, before, "step_started", 5)
    listed = ulab.etcdops("runs", "list", check=True).stdout
    assert run_id in listed and "interrupted" in listed
    resumed = ulab.etcdops(
        "run", "--resume", run_id, "--yes", "--report", str(tmp_path / "r.json"), timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "done before" in resumed.stdout
    status = ulab.wait_healthy()
    assert len(status["members"]) == 3
    keys = ulab.ctl("get", "keep/", "--prefix", "--keys-only").split()
    assert len(keys) == 200
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "successful" and report["run_id"] == run_id


def test_kill_during_scale_out_then_resume(ulab: LabEnv) -> None:
    before = runs(ulab)
    proc = start(ulab, "scale-out", "-p", "host=node4")
    run_id = kill_at(ulab, proc, before, "step_started", 5)  # after the learner was added
    resumed = ulab.etcdops("run", "--resume", run_id, "--yes", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = ulab.wait_healthy()
    voters = sorted(m["name"] for m in status["members"] if m["role"] == "voter")
    assert voters == ["node1", "node2", "node3", "node4"]
    assert len(ulab.ctl("get", "keep/", "--prefix", "--keys-only").split()) == 200
    ulab.set_members(voters)  # what the run tells the operator to do next


def test_a_reviewed_plan_made_stale_by_a_membership_change(ulab: LabEnv, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    proc = ulab.etcdops("plan", "compact-defrag", "-i", "lab", "--save", str(saved))
    assert proc.returncode == 0, proc.stderr
    assert ulab.etcdops("run", "scale-in", "-i", "lab", "--yes", "-p", "host=node4").returncode == 0
    stale = ulab.etcdops("run", "--plan", str(saved), "--yes")
    assert stale.returncode == 6, stale.stdout + stale.stderr
    assert "members" in stale.stderr and "no longer matches" in stale.stderr
    ulab.set_members(["node1", "node2", "node3"])


def test_a_failed_run_reports_the_failing_step(ulab: LabEnv, tmp_path: Path) -> None:

    (ulab.root / "my-runbooks" / "fails.yml").write_text(
        "name: fails\ndescription: the second of three steps fails\nlock: none\nsteps:\n"
        "  - {name: One, target: 'host:node1', command: {run: 'true'}}\n"
        "  - {name: Two, target: 'host:node1', command: {run: 'echo broken >&2; exit 7'}}\n"
        "  - {name: Three, target: 'host:node1', command: {run: 'true'}}\n"
    )
    proc = ulab.etcdops(
        "run",
        "fails",
        "-i",
        "lab",
        "--yes",
        "--runbooks",
        "my-runbooks",
        "--report",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "j.xml"),
    )
    assert proc.returncode == 1
    check_report_files(tmp_path / "r.json", tmp_path / "j.xml", steps=3, failures=1)
    report = json.loads((tmp_path / "r.json").read_text())
    assert [s["status"] for s in report["steps"]] == [
        "changed",
        "failed",
        "pending",
    ]  # a command changes
    assert "broken" in report["error"]


def test_a_lock_file_left_by_a_dead_restore_refuses_until_break_lock(ulab: LabEnv) -> None:
    lock = ulab.host_root("node2") / "run" / "etcdops.lock"
    lock.write_text(
        "run=20260101T000000Z-dead00 runbook=restore user=ops control=ci-7 pid=4242 "
        "since=2026-01-01T00:00:00+00:00 \n"
    )
    for runbook in ("restore", "slow"):  # lock files (restore) and the etcd lock both honour it
        proc = ulab.etcdops("run", runbook, "-i", "lab", "--yes", "--runbooks", "my-runbooks")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        assert (
            "20260101T000000Z-dead00" in proc.stderr
            and "ci-7" in proc.stderr
            and "--break-lock" in proc.stderr
        )
    assert lock.exists()
    proc = ulab.etcdops(
        "run", "slow", "-i", "lab", "--yes", "--runbooks", "my-runbooks", "--break-lock"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "removed node2:" in proc.stdout and not lock.exists()


def test_a_pause_is_refused_under_yes_unless_the_runbook_allows_it(ulab: LabEnv) -> None:
    for allow, code in (("false", 3), ("true", 0)):
        (ulab.root / "my-runbooks" / "pauses.yml").write_text(
            "name: pauses\ndescription: waits for an operator\nlock: none\nsteps:\n"
            f"  - name: Ask\n    pause: {{message: 'Check the dashboards.', allow_unattended: "
            f"{allow}}}\n"
            "  - {name: After, target: 'host:node1', command: {run: 'echo after-the-pause', show: "
            "true}}\n"
        )
        proc = ulab.etcdops("run", "pauses", "-i", "lab", "--yes", "--runbooks", "my-runbooks")
        assert proc.returncode == code, proc.stdout + proc.stderr
        ran_after = "node1: changed" in proc.stderr  # the step after the pause ran
        assert ran_after == (code == 0)
        assert ("refused under --yes" in proc.stderr) == (code == 3)


def test_kill_in_the_fenced_phase_of_a_restore_then_resume(ulab: LabEnv) -> None:
    """kill -9 while the restored cluster is fenced (its leases being revoked): the resume ends
    on the members' client URLs, the leases revoked, the rollback file the original one."""
    lease = ulab.ctl("lease", "grant", "600").split()[1]
    ulab.ctl("put", "fenced/leased", "v", f"--lease={lease}")
    assert ulab.etcdops("run", "snapshot", "-i", "lab", "--yes").returncode == 0
    from etcdops.runbook import load_runbook

    steps = load_runbook(ulab.root / "runbooks" / "restore.yml").steps
    revoke = next(i for i, s in enumerate(steps, 1) if s.kind == "etcd_leases")
    before = runs(ulab)
    proc = start(ulab, "restore")
    run_id = kill_at(ulab, proc, before, "step_started", revoke)
    # the fenced cluster runs: it answers on the fenced port only, and its member list names the
    # real client URLs, never a fenced one (a client syncing its endpoints from it, as Patroni
    # does, would otherwise learn the way past the fence, for this restore and the next)
    fenced = ulab.client_url("node1").replace(":2379", ":12379")
    listed = json.loads(ulab.ctl("member", "list", "-w", "json", endpoints=fenced))
    urls = sorted(u for m in listed["members"] for u in m.get("clientURLs") or [])
    assert urls == sorted(ulab.client_url(f"node{i}") for i in (1, 2, 3)), urls
    resumed = ulab.etcdops("run", "--resume", run_id, "--yes", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = ulab.wait_healthy()  # on the client URLs
    assert len(status["members"]) == 3
    assert ulab.ctl("get", "fenced/", "--prefix", "--keys-only").split() == []
    for host in ("node1", "node2", "node3"):
        etc = ulab.host_root(host) / "etc" / "etcd"
        env = (etc / "etcd.env").read_text()
        assert ":12379" not in env and "ETCD_INITIAL_CLUSTER_STATE=existing" in env
        (backup,) = etc.glob(f"etcd.env.bak-{run_id.split('-')[0]}")
        assert ":12379" not in backup.read_text()  # the rollback is the file from before
        assert list((ulab.host_root(host) / "var" / "lib").glob("etcd.pre-restore-*"))
