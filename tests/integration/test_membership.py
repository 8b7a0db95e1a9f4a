"""Membership runbooks on a lab of their own (3 members, 2 spares on 127.0.4.N):
scale-out to 4 and 5 voters, scale-in, replacement of a dead member, refusals,
with a continuous writer whose every acknowledged write must survive."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, LabEnv, frozen, running_lab
from tests.integration.test_unattended import newest_run, runs, start, wait_for_event

pytestmark = pytest.mark.lab
NET = "127.0.4."
WRITER = Path(__file__).with_name("writer.py")
STALL_BOUND = 15.0  # seconds; measured stalls are reported in the test output


@pytest.fixture(scope="module")
def mlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("membership"), NET) as labenv:
        yield labenv


class Writer:
    def __init__(self, lab: LabEnv, out: Path, endpoints: list[str]) -> None:
        self.lab, self.out = lab, out
        self.proc = subprocess.Popen([sys.executable, str(WRITER), str(out), *endpoints], cwd=REPO)
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
    print(f"\nwriter: {len(result['acked'])} acknowledged of {result['attempted']}, "
          f"{result['failures']} failed, longest write stall {result['longest_stall']}s")
    assert result["longest_stall"] < STALL_BOUND


def run(lab: LabEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.etcdops("run", *args, "-i", "lab", "--yes", timeout=900)


def follow_inventory(lab: LabEnv, proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The run tells the operator to update the etcd group; do so, as they would."""
    assert "`etcd` group" in proc.stdout  # the on_success reminder
    names = voters(lab)
    lab.set_members(names)
    return names


def test_install_playbook_is_idempotent(mlab: LabEnv) -> None:
    from etcdops.inventory import load_inventory
    from etcdops.transport.ansible import run_playbook

    inventory = load_inventory(mlab.root / "inventories" / "lab")
    first = run_playbook(inventory.path, str(REPO / "playbooks" / "install-etcd.yml"), ("node4",), {}, 600)
    assert first.status == "successful" and first.changed > 0, first.stdout_tail
    assert (mlab.host_root("node4") / "bin" / "etcd").is_file()
    second = run_playbook(inventory.path, str(REPO / "playbooks" / "install-etcd.yml"), ("node4",), {}, 600)
    assert second.status == "successful" and second.changed == 0, second.stdout_tail


def test_scale_out_refused_while_a_voter_is_down(mlab: LabEnv) -> None:
    mlab.service("node3", "stop")
    try:
        proc = run(mlab, "scale-out", "-p", "host=node4")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "node3" in proc.stderr and "unhealthy" in proc.stderr
        assert "finished" not in proc.stdout and "changed" not in proc.stdout  # nothing ran
    finally:
        mlab.service("node3", "start")
    status = mlab.wait_healthy()
    assert len(status["members"]) == 3  # nothing was added


def test_scale_out_refuses_a_used_data_dir_unless_wipe(mlab: LabEnv) -> None:
    stale = mlab.host_root("node4") / "var" / "lib" / "etcd" / "member"
    stale.mkdir(parents=True)
    (stale / "old").write_text("left by a previous life")
    proc = run(mlab, "scale-out", "-p", "host=node4")
    assert proc.returncode == 3 and "is not empty" in proc.stderr, proc.stdout + proc.stderr
    assert len(mlab.wait_healthy()["members"]) == 3


def test_scale_out_to_four_and_five_voters_with_a_writer(mlab: LabEnv, tmp_path: Path) -> None:
    writer = Writer(mlab, tmp_path / "writes.json", [mlab.client_url(n) for n in ("node1", "node2", "node3")])
    try:
        proc = run(mlab, "scale-out", "-p", "host=node4", "-p", "wipe=true")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "quorum" in proc.stdout and "add_learner" in proc.stdout
        assert len(follow_inventory(mlab, proc)) == 4
        wiped = list((mlab.host_root("node4") / "var" / "lib").glob("etcd.wiped-*"))
        assert wiped and (wiped[0] / "member" / "old").is_file()  # moved aside, not deleted
        # a learner that has not caught up in time is left in place (no quorum effect) with advice:
        # its etcd is frozen (SIGSTOP) as soon as it has started, so the 5 s catch-up wait runs out
        before = runs(mlab)
        proc = start(mlab, "scale-out", "-p", "host=node5", "-p", "catchup_timeout=5")
        run_dir = newest_run(mlab, before)
        wait_for_event(run_dir, "step_finished", 5)
        with frozen(mlab.host_root("node5") / "run" / "etcd.pid"):
            out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, out + err
        assert "member remove" in err and "learner" in err
        status = mlab.wait_healthy()
        assert [m["role"] for m in status["members"] if m["host"] == "node5"] == ["learner"]
        assert status["voters"] == 4 and status["quorum"] == 3
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        run_id = proc.stderr.split("etcdops run --resume ")[1].split()[0]
        resumed = mlab.etcdops("run", "--resume", run_id, "--yes", timeout=600)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert len(follow_inventory(mlab, resumed)) == 5
    finally:
        result = writer.stop()
    assert voters(mlab) == ["node1", "node2", "node3", "node4", "node5"]
    check_writes(mlab, result, mlab.client_url("node2"))
    # every member, including the new ones, has the writes
    count = lambda node: int(mlab.ctl("get", "w/", "--prefix", "--count-only", "-w", "fields",  # noqa: E731
                                      endpoints=mlab.client_url(node)).split('"Count" : ')[1].split()[0])
    assert count("node5") == count("node1") >= len(result["acked"])


def test_scale_in_then_replace_a_dead_member_with_a_writer(mlab: LabEnv, tmp_path: Path) -> None:
    proc = run(mlab, "scale-in", "-p", "host=node5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert follow_inventory(mlab, proc) == ["node1", "node2", "node3", "node4"]
    assert not (mlab.host_root("node5") / "var/lib/etcd").exists()
    assert list((mlab.host_root("node5") / "var/lib").glob("etcd.removed-*")), "data dir moved aside, not deleted"

    mlab.kill_host("node1")
    writer = Writer(mlab, tmp_path / "writes.json", [mlab.client_url(n) for n in ("node2", "node3", "node4")])
    try:
        proc = run(mlab, "replace-member", "-p", "old=node1", "-p", "new=node5")
    finally:
        result = writer.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "node1: unreachable" in out and "could not reach node1" in out
    assert follow_inventory(mlab, proc) == ["node2", "node3", "node4", "node5"]
    check_writes(mlab, result, mlab.client_url("node5"))


def test_scale_in_of_the_leader_back_to_three(mlab: LabEnv) -> None:
    leader = mlab.wait_healthy()["leader"]
    proc = run(mlab, "scale-in", "-p", f"host={leader}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan_step = next(line for line in proc.stdout.splitlines() if line.startswith("[1/"))
    assert f"Move leadership from {leader}" in plan_step and "SKIPPED" not in plan_step
    remaining = follow_inventory(mlab, proc)
    assert len(remaining) == 3 and leader not in remaining
    assert mlab.wait_healthy()["leader"] != leader


def test_replace_refused_when_two_of_three_voters_are_down(mlab: LabEnv) -> None:
    names = voters(mlab)
    down = names[:2]
    for name in down:
        mlab.service(name, "stop")
    try:
        spare = next(n for n in ("node1", "node2", "node3", "node4", "node5") if n not in names and n != "node1")
        proc = run(mlab, "replace-member", "-p", f"old={down[0]}", "-p", f"new={spare}")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        # one voter of three answers: no leader, no member list; refused before anything is touched
        assert "has a leader" in proc.stderr and f"etcd answers on {names[2]}" in proc.stderr
        assert "is a member" not in proc.stderr  # not misreported as bad input
    finally:
        for name in down:
            mlab.service(name, "start")
    assert voters(mlab) == names


def test_scale_in_to_zero_is_refused(tmp_path: Path) -> None:
    with running_lab(tmp_path, "127.0.5.", members=1, spares=0) as one:
        proc = run(one, "scale-in", "-p", "host=node1")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "without a voter" in proc.stderr
        assert len(one.wait_healthy()["members"]) == 1
