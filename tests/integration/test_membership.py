"""Membership runbooks on a lab of their own (3 members, 2 spares on 127.OCTET.4.N): scale-out to 4
and 5 voters, scale-in, replacement of a dead member, refusals, with a continuous writer whose
every acknowledged write must survive."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    REPO,
    LabEnv,
    Writer,
    check_writes,
    frozen,
    net,
    newest_run,
    running_lab,
    runs,
    start,
    voters,
    wait_for_event,
)

pytestmark = pytest.mark.lab
NET = net(4)


@pytest.fixture(scope="module", params=["plain", "auth"])
def mlab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabEnv]:
    """Every membership test runs twice: once plain, once with etcd auth enabled (user root), where
    the password is watched for on every process list of the machine while the lab lives."""
    with running_lab(
        tmp_path_factory.mktemp("membership"), NET, auth=request.param == "auth"
    ) as labenv:
        yield labenv


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
    first = run_playbook(
        inventory.path, str(REPO / "playbooks" / "install-etcd.yml"), ("node4",), {}, 600
    )
    assert first.status == "successful" and first.changed > 0, first.stdout_tail
    assert (mlab.host_root("node4") / "bin" / "etcd").is_file()
    second = run_playbook(
        inventory.path, str(REPO / "playbooks" / "install-etcd.yml"), ("node4",), {}, 600
    )
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


def test_scale_out_without_install_refuses_a_host_without_etcd(mlab: LabEnv) -> None:
    """-p install=false on a host where etcd is not installed (node5, before any test installs it):
    refused in pre-flight, naming the binary, and no learner is added (it would never start)."""
    assert not (mlab.host_root("node5") / "bin" / "etcd").exists()
    proc = run(mlab, "scale-out", "-p", "host=node5", "-p", "install=false")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert (
        f"{mlab.host_root('node5') / 'bin' / 'etcd'}" in proc.stderr
        and "not installed" in proc.stderr
    ), proc.stderr
    assert len(mlab.wait_healthy()["members"]) == 3  # nothing was added


def test_scale_out_refuses_a_used_data_dir_unless_wipe(mlab: LabEnv) -> None:
    stale = mlab.host_root("node4") / "var" / "lib" / "etcd" / "member"
    stale.mkdir(parents=True)
    (stale / "old").write_text("left by a previous life")
    proc = run(mlab, "scale-out", "-p", "host=node4")
    assert proc.returncode == 3 and "is not empty" in proc.stderr, proc.stdout + proc.stderr
    assert len(mlab.wait_healthy()["members"]) == 3


def test_scale_out_to_four_and_five_voters_with_a_writer(mlab: LabEnv, tmp_path: Path) -> None:
    writer = Writer(
        mlab, tmp_path / "writes.json", [mlab.client_url(n) for n in ("node1", "node2", "node3")]
    )
    try:
        proc = run(mlab, "scale-out", "-p", "host=node4", "-p", "wipe=true")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "quorum" in proc.stdout and "add_learner" in proc.stdout
        # the waits read etcd through one member host, except with auth on, where etcd refuses its
        # gateway to a client certificate (facts/through.py): then every member is read over its own
        # SSH
        assert ("members read through node" in proc.stderr) == (mlab.password is None), proc.stderr
        assert len(follow_inventory(mlab, proc)) == 4
        wiped = list((mlab.host_root("node4") / "var" / "lib").glob("etcd.wiped-*"))
        assert wiped and (wiped[0] / "member" / "old").is_file()  # moved aside, not deleted
        # a learner whose etcd is killed (-9) as soon as it has started never catches up: scale-out
        # removes it (a learner does not count toward quorum) and fails naming why
        before = runs(mlab)
        proc = start(mlab, "scale-out", "-p", "host=node5", "-p", "catchup_timeout=5")
        run_dir = newest_run(mlab, before)
        wait_for_event(run_dir, "step_finished", 5)
        os.kill(int((mlab.host_root("node5") / "run" / "etcd.pid").read_text()), signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, out + err
        assert "the learner node5 never started" in err or "node5 stopped catching up" in err, err
        assert "removed it from the cluster" in err, err
        status = mlab.wait_healthy()
        assert not [m for m in status["members"] if m["host"] == "node5"], status["members"]
        assert status["voters"] == 4 and status["quorum"] == 3
        # -p keep_stalled=true keeps the learner that has not caught up in time in place (no quorum
        # effect) with advice: its etcd is frozen (SIGSTOP) as soon as it has started, so the 5 s
        # catch-up wait runs out; --resume then finishes once it runs again
        before = runs(mlab)
        proc = start(
            mlab, "scale-out", "-p", "host=node5", "-p", "catchup_timeout=5",
            "-p", "keep_stalled=true", "-p", "wipe=true",
        )  # fmt: skip
        run_dir = newest_run(mlab, before)
        wait_for_event(run_dir, "step_finished", 5)
        with frozen(mlab.host_root("node5") / "run" / "etcd.pid"):
            out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, out + err
        assert "member remove" in err and "left in place as a learner" in err, err
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
    def count(node: str) -> int:
        out = mlab.ctl(
            "get", "w/", "--prefix", "--count-only", "-w", "fields", endpoints=mlab.client_url(node)
        )
        return int(out.split('"Count" : ')[1].split()[0])

    assert count("node5") == count("node1") >= len(result["acked"])


def test_scale_in_then_replace_a_dead_member_with_a_writer(mlab: LabEnv, tmp_path: Path) -> None:
    proc = run(mlab, "scale-in", "-p", "host=node5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert follow_inventory(mlab, proc) == ["node1", "node2", "node3", "node4"]
    assert not (mlab.host_root("node5") / "var/lib/etcd").exists()
    assert list((mlab.host_root("node5") / "var/lib").glob("etcd.removed-*")), (
        "data dir moved aside, not deleted"
    )

    mlab.kill_host("node1")
    writer = Writer(
        mlab, tmp_path / "writes.json", [mlab.client_url(n) for n in ("node2", "node3", "node4")]
    )
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
        spare = next(
            n
            for n in ("node1", "node2", "node3", "node4", "node5")
            if n not in names and n != "node1"
        )
        proc = run(mlab, "replace-member", "-p", f"old={down[0]}", "-p", f"new={spare}")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        # one voter of three answers: no leader, no member list; refused before anything is touched
        assert "has no leader" in proc.stderr and f"etcd answers on {names[2]}" in proc.stderr
        assert "is a member" not in proc.stderr  # not misreported as bad input
    finally:
        for name in down:
            mlab.service(name, "start")
    assert voters(mlab) == names


TWICE = """name: twice
description: every step of a join and a removal, each twice in a row; the second must find it done
params:
  host: {type: host, required: true}
  wipe: {type: bool, default: true}
vars:
  new: "{{ params.host }}"
  via: "{{ facts.healthy_voter_host([params.host]) }}"
  initial_cluster: >-
    {{ (facts.peer_list([params.host])
        + [hosts[params.host].etcd.name ~ '=' ~ hosts[params.host].etcd.peer_url])
    | join(',') }}
steps:
  - {name: install, target: "host:{{ vars.new }}", playbook: install-etcd.yml}
  - {name: install again, target: "host:{{ vars.new }}", playbook: install-etcd.yml}
  - {name: wipe, target: "host:{{ vars.new }}",
     move_aside: {suffix: wiped, only_if_not_empty: true}}
  - {name: wipe again, target: "host:{{ vars.new }}",
     move_aside: {suffix: wiped, only_if_not_empty: true}}
  - {name: add, target: "host:{{ vars.via }}", retry: {attempts: 30, on: ["unhealthy cluster"]},
     etcd_member: {action: add_learner, host: "{{ vars.new }}"}}
  - {name: add again, target: "host:{{ vars.via }}",
     etcd_member: {action: add_learner, host: "{{ vars.new }}"}}
  - {name: env, target: "host:{{ vars.new }}",
     template: {src: templates/etcd.env.join.j2, dest: "{{ host.etcd.env_file }}"}}
  - {name: env again, target: "host:{{ vars.new }}",
     template: {src: templates/etcd.env.join.j2, dest: "{{ host.etcd.env_file }}"}}
  - {name: start, target: "host:{{ vars.new }}", etcd_service: started}
  - {name: start again, target: "host:{{ vars.new }}", etcd_service: started}
  - {name: catch up, wait: {until: "facts.caught_up(vars.new)", timeout: 120, interval: 0.25}}
  - {name: promote, target: "host:{{ vars.via }}",
     retry: {attempts: 60, delay: 0.25, on: ["in sync with leader"]},
     etcd_member: {action: promote, host: "{{ vars.new }}"}}
  - {name: promote again, target: "host:{{ vars.via }}",
     etcd_member: {action: promote, host: "{{ vars.new }}"}}
  - {name: remove, target: "host:{{ vars.via }}", retry: {attempts: 30, on: ["unhealthy cluster"]},
     etcd_member: {action: remove, host: "{{ vars.new }}"}}
  - {name: remove again, target: "host:{{ vars.via }}",
     etcd_member: {action: remove, host: "{{ vars.new }}"}}
  - {name: stop, target: "host:{{ vars.new }}", etcd_service: stopped}
  - {name: stop again, target: "host:{{ vars.new }}", etcd_service: stopped}
  - {name: aside, target: "host:{{ vars.new }}", move_aside: removed}
  - {name: aside again, target: "host:{{ vars.new }}", move_aside: removed}
"""


def test_every_membership_step_run_twice_reports_ok_the_second_time(
    mlab: LabEnv, tmp_path: Path
) -> None:
    names = voters(mlab)
    spare = next(n for n in ("node2", "node3", "node4", "node5") if n not in names)
    books = tmp_path / "books"
    (books / "templates").mkdir(parents=True)
    (books / "twice.yml").write_text(TWICE)
    shutil.copy(REPO / "runbooks" / "templates" / "etcd.env.join.j2", books / "templates")
    proc = mlab.etcdops(
        "run",
        "twice",
        "-i",
        "lab",
        "--yes",
        "-p",
        f"host={spare}",
        "--runbooks",
        str(books),
        "--report",
        str(tmp_path / "r.json"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    statuses = {
        s["name"]: s["status"] for s in json.loads((tmp_path / "r.json").read_text())["steps"]
    }
    firsts = [n for n in statuses if not n.endswith(" again") and n != "catch up"]
    assert all(statuses[f"{n} again"] == "ok" for n in firsts), str(sorted(statuses.items()))
    # a removed member stops by itself (etcd exits once it learns it was removed): "stop" may find
    # it stopped
    assert all(statuses[n] == "changed" for n in firsts if n not in ("wipe", "install", "stop")), (
        str(statuses)
    )
    assert voters(mlab) == names  # joined, then removed again: as before


def test_scale_in_to_zero_is_refused(tmp_path: Path) -> None:
    with running_lab(tmp_path, net(5), members=1, spares=0) as one:
        proc = run(one, "scale-in", "-p", "host=node1")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "without a voter" in proc.stderr
        assert len(one.wait_healthy()["members"]) == 1


def test_a_promote_is_refused_while_a_voter_is_frozen_and_the_advice_reads_the_membership(
    tmp_path: Path,
) -> None:
    """Issue 28.5: a follower voter hangs (SIGSTOP) from the moment the learner's etcd starts. The
    old code promoted the learner anyway (4 voters, 3 healthy, quorum 3: no failure tolerated),
    then timed out verifying and said the new member "is a learner". The promote is a membership
    change gated like any other: refused (exit 3), the learner stays a learner, and the advice
    says what each host is, read after the failure."""
    with running_lab(tmp_path, net(22), members=3, spares=1) as lab:
        status = lab.wait_healthy()
        followers = sorted(e["host"] for e in status["endpoints"] if e["host"] != status["leader"])
        victim = followers[-1]  # not the one the run asks (the first healthy follower)
        before = runs(lab)
        proc = start(lab, "scale-out", "-p", "host=node4")
        run_dir = newest_run(lab, before)
        wait_for_event(run_dir, "step_started", 1, timeout=120)  # its plan.json is written by then
        plan = json.loads((run_dir / "plan.json").read_text())
        started = next(s["index"] for s in plan["steps"] if s["name"].startswith("Start etcd"))
        wait_for_event(run_dir, "step_started", started, timeout=600)
        with frozen(lab.host_root(victim) / "run" / "etcd.pid"):
            out, err = proc.communicate(timeout=600)
            members = {
                m["name"]: m["isLearner"] if "isLearner" in m else False
                for m in json.loads(
                    lab.ctl(
                        "member", "list", "-w", "json", endpoints=lab.client_url(status["leader"])
                    )
                )["members"]
            }
        assert proc.returncode == 3, out + err
        assert f"voter(s) {victim} are unhealthy" in err and "node4 stays a learner" in err, err
        assert members.get("node4") is True, members  # still a learner, read while frozen
        assert "node4 is a learner (it does not count toward quorum)." in err, err
        assert f"{victim} (not healthy)" in err, err
        after = lab.wait_healthy()
        assert [m["role"] for m in after["members"] if m["host"] == "node4"] == ["learner"]
        assert after["voters"] == 3
