"""The cluster lock's rules without a cluster (issue 28.1-3, 12): who is alive (pid and start
time on this control host, a renewed lease elsewhere), release past a lost host saying what is
left, one live runner per run id, and the etcd credential passed to etcdctl only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from etcdops import paths
from etcdops.commands import etcdctl, etcdctl_fragment
from etcdops.errors import ConnectError, Locked
from etcdops.execute import runlock
from etcdops.inventory import Inventory
from etcdops.lock import ClusterLock, Holder, new_holder, process_start
from etcdops.lock.holder import kept_alive
from etcdops.templating import Secret, quote, render, revealed
from etcdops.transport import Result, env_prelude
from etcdops.transport.local import LocalTransport
from etcdops.transport.pool import Pool
from tests.helpers import lab_inventory


# ----- who is alive ---------------------------------------------------------------------------
def test_a_holder_on_this_control_host_is_alive_only_with_its_pid_and_start_time() -> None:
    me = new_holder("20260101T000000Z-abc123", "restore")
    assert me.started == process_start(os.getpid()) and me.boot
    assert Holder.parse(me.text()) == me
    assert me.alive_here() is True
    sleeper = subprocess.Popen(["sleep", "0"])
    sleeper.wait()
    gone = Holder.parse(me.text().replace(f"pid={me.pid} ", f"pid={sleeper.pid} "))
    assert gone is not None and gone.alive_here() is False  # that pid is gone (or reused)
    reused = Holder.parse(me.text().replace(f"started={me.started}", "started=1"))
    assert reused is not None and reused.alive_here() is False  # same pid, another process
    elsewhere = Holder.parse(me.text().replace(f"control={me.control}", "control=ci-7"))
    assert elsewhere is not None and elsewhere.alive_here() is None  # cannot tell
    old = Holder.parse(
        "run=20260101T000000Z-dead00 runbook=restore user=ops control=x pid=4242 "
        "since=2026-01-01T00:00:00+00:00"
    )
    assert old is not None and old.alive_here() is None  # written without a start time


@pytest.mark.parametrize(
    ("readings", "alive"),
    [
        ([30, 28, 27, 30], True),  # renewed after 3 s
        ([29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18], False),  # counts down: overdue
        ([10], False),  # far below two thirds: a renewal is overdue at once
        ([None], False),  # no such lease
        ([25, None], False),  # it expired
    ],
)
def test_a_lease_is_kept_alive_when_its_remaining_ttl_goes_up(
    readings: list[float | None], alive: bool
) -> None:
    values, now = iter(readings), [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    found, seen = kept_alive(lambda: next(values), 30, sleep, lambda: now[0])
    assert found is alive, seen
    assert now[0] <= 30 * 2 / 3 + 2  # bounded


# ----- release past a lost host ---------------------------------------------------------------
class Lost(LocalTransport):
    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, command: str, timeout: float, env=None, cancel=None) -> Result:  # type: ignore[no-untyped-def, override]
        raise ConnectError(self.name, "Connection refused")


class Answers(LocalTransport):
    def __init__(self, name: str, ran: list[tuple[str, str]]) -> None:
        self.name, self.ran = name, ran

    def run(self, command: str, timeout: float, env=None, cancel=None) -> Result:  # type: ignore[no-untyped-def, override]
        self.ran.append((self.name, command))
        return Result(0, "", "")


class Hosts(Pool):
    def __init__(self, inventory: Inventory, lost: set[str]) -> None:
        super().__init__(inventory)
        self.lost, self.ran = lost, []  # type: ignore[var-annotated]

    def _make(self, host_name: str):  # type: ignore[no-untyped-def]
        return Lost(host_name) if host_name in self.lost else Answers(host_name, self.ran)


def _lock(pool: Hosts, inventory: Inventory, mode: str) -> tuple[ClusterLock, list[str]]:
    notes: list[str] = []
    holder = new_holder("20260101T000000Z-abc123", "restore")
    return ClusterLock(inventory, pool, holder, mode, "node1", notes.append), notes


def test_release_goes_on_past_a_lost_host_and_says_what_is_left() -> None:
    inventory = lab_inventory()
    pool = Hosts(inventory, lost={"node2"})
    lock, notes = _lock(pool, inventory, "files")
    lock._files = ["node1", "node2", "node3"]
    left = lock.release()
    released = sorted(name for name, command in pool.ran if "rm -f" in command)
    assert released == ["node1", "node3"]
    assert (
        len(left) == 1 and "on node2" in left[0] and "--resume 20260101T000000Z-abc123" in left[0]
    )
    assert any("left behind" in n and "node2" in n for n in notes)


def test_the_etcd_key_is_released_through_another_member_or_says_when_it_expires() -> None:
    inventory = lab_inventory()
    pool = Hosts(inventory, lost={"node1"})
    lock, _ = _lock(pool, inventory, "etcd")
    lock._lease, lock._renewed = "694d9c1a2b3c4d5e", 1_767_225_600.0
    assert lock.release() == []
    assert [n for n, c in pool.ran if "lease revoke 694d9c1a2b3c4d5e" in c] == ["node2"]
    pool = Hosts(inventory, lost={"node1", "node2", "node3"})
    lock, _ = _lock(pool, inventory, "etcd")
    lock._lease, lock._renewed = "694d9c1a2b3c4d5e", 1_767_225_600.0
    left = lock.release()
    assert len(left) == 1 and "etcdops/lock" in left[0] and "expires by itself 30s" in left[0]
    assert "2026-01-01T00:00:30+00:00" in left[0]


# ----- one live runner per run id -------------------------------------------------------------
def test_a_second_runner_of_the_same_run_is_refused_naming_the_first(tmp_path: Path) -> None:
    run_id = "20260101T000000Z-abc123"
    env = {**os.environ, "ETCDOPS_HOME": os.environ["ETCDOPS_HOME"]}
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time
                from etcdops.execute import runlock
                runlock.claim({run_id!r}); print("held", flush=True); time.sleep(30)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(Locked, match=f"pid {holder.pid} "):
            runlock.claim(run_id)
    finally:
        holder.kill()
        holder.wait()
    assert runlock.claim(run_id) and not runlock.claim(run_id)  # the dead one's flock is gone
    runlock.release(run_id)
    assert paths.runner_lock(run_id).exists()  # never removed: every runner locks one file


def test_a_run_id_or_stamp_from_a_file_must_have_etcdops_forms() -> None:
    good = {
        "id": "20260101T000000Z-abc123",
        "stamp": "20260101T000000Z",
        "time": "2026-01-01T00:00:00+00:00",
    }
    assert paths.checked_run(good) == good
    for bad in (
        {**good, "id": "../../../../x"},
        {**good, "stamp": "x/../../../../tmp/evil"},
        {**good, "stamp": "20260101T000001Z"},  # not the id's
        {**good, "time": "$(reboot)"},
        "20260101T000000Z-abc123",
    ):
        with pytest.raises(Exception, match="not"):
            paths.checked_run(bad)


# ----- the etcd credential reaches etcdctl only -------------------------------------------------
def _auth_etcd():  # type: ignore[no-untyped-def]
    from dataclasses import replace

    etcd = lab_inventory().host("node1").etcd
    assert etcd is not None
    return replace(etcd, user="root", password=Secret("pw-secret"))


def test_the_secret_is_read_into_a_variable_that_is_not_exported() -> None:
    prelude, stdin = env_prelude({"ETCDCTL_USER": "root:pw-secret"})
    assert "export" not in prelude and stdin == b"root:pw-secret\n"
    script = prelude + (
        'ETCDCTL_USER="$_etcdops_ETCDCTL_USER" sh -c \'echo "etcdctl:$ETCDCTL_USER"\'; '
        "env | grep -c pw-secret || true"
    )
    out = subprocess.run(["/bin/sh", "-c", script], input=stdin, capture_output=True, timeout=10)
    assert out.stdout.decode().split() == ["etcdctl:root:pw-secret", "0"]


def test_etcdctl_gets_the_credential_and_the_plan_reads_as_typed() -> None:
    etcd = _auth_etcd()
    command = etcdctl(etcd, "member", "list")
    assert command.text.startswith('ETCDCTL_USER="$_etcdops_ETCDCTL_USER" ')
    assert "ETCDCTL_USER" not in command.display and "pw-secret" not in command.text
    assert dict(command.env)["ETCDCTL_USER"].reveal() == "root:pw-secret"
    fragment = etcdctl_fragment(etcd)
    assert "ETCDCTL_USER" not in str(fragment)  # advice text an operator copies
    with revealed():
        assert quote(fragment).startswith('ETCDCTL_USER="$_etcdops_ETCDCTL_USER" ')
        ran = render("{{ ctl }} get x", {"ctl": fragment}, shell=True, where="t")
    shown = render("{{ ctl }} get x", {"ctl": fragment}, shell=True, where="t")
    assert ran.startswith("ETCDCTL_USER=") and not shown.startswith("ETCDCTL_USER=")
    without = etcdctl_fragment(lab_inventory().host("node1").etcd)  # type: ignore[arg-type]
    with revealed():
        assert "ETCDCTL_USER" not in quote(without)  # no auth: nothing in front
