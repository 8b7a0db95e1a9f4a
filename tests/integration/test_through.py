"""The re-reads of a run through one member host (etcdops/facts/through.py) on the real lab (TLS
with client certificates): the same facts as every member's own read, and a stopped or hung
member read over its own SSH with its own diagnosis."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from etcdops.facts.gather import gather
from etcdops.facts.model import ClusterFacts
from etcdops.facts.through import Through
from etcdops.inventory import Inventory, load_inventory
from etcdops.transport.pool import Pool
from tests.integration.helpers import NET, LabEnv, frozen

pytestmark = pytest.mark.lab

MEMBERS = ("node1", "node2", "node3")


@pytest.fixture
def reads(lab: LabEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inventory, Pool]]:
    lab.wait_healthy()  # also caches the installed versions, as the plan of a run does
    monkeypatch.setenv("ETCDOPS_HOME", lab.env["ETCDOPS_HOME"])
    inventory = load_inventory(lab.root / "inventories" / "lab")
    assert [h.name for h in inventory.members] == list(MEMBERS)
    with Pool(inventory) as pool:
        yield inventory, pool


def live(inventory: Inventory, pool: Pool, through: Through) -> ClusterFacts:
    return gather(inventory, pool, versions=False, through=through)


def test_a_run_waits_on_etcd_read_through_one_member_host(lab: LabEnv) -> None:
    proc = lab.etcdops("run", "status", "-i", "lab", "--yes", check=True)
    assert "(etcd of 3 of 3 members read through node" in proc.stderr, (
        proc.stderr
    )  # the progress lines


def test_the_same_facts_as_every_members_own_read(reads: tuple[Inventory, Pool]) -> None:
    inventory, pool = reads
    own = gather(inventory, pool, versions=False)
    through = Through(inventory, pool, "node2")
    via = live(inventory, pool, through)
    assert {hf.through for hf in via.hosts.values()} == {"node2"} and not any(
        h.through for h in own.hosts.values()
    )
    assert via.healthy and own.healthy and via.member_lists_agree
    assert (via.leader_host, via.cluster_id, via.member_hosts) == (
        own.leader_host,
        own.cluster_id,
        own.member_hosts,
    )
    assert sorted(m.id for m in via.members) == sorted(m.id for m in own.members)
    for name in MEMBERS:
        mine, theirs = via.hosts[name], own.hosts[name]
        assert mine.status is not None and theirs.status is not None
        assert (mine.status.member_id, mine.status.version, mine.member_ids) == (
            theirs.status.member_id,
            theirs.status.version,
            theirs.member_ids,
        )


def test_a_stopped_member_is_read_over_its_own_ssh_until_healthy_again(
    lab: LabEnv, reads: tuple[Inventory, Pool]
) -> None:
    inventory, pool = reads
    through = Through(inventory, pool, "node2")
    lab.service("node3", "stop")
    try:
        facts = live(inventory, pool, through)
        node3 = facts.hosts["node3"]
        assert node3.through == "" and not node3.healthy  # its own read, and its own words:
        assert node3.error == f"nothing listens on {NET}3:2379: etcd is not running"
        assert facts.hosts["node1"].through == "node2" and not facts.healthy
        assert not through.asks("node3")  # the next poll reads it over its own SSH straight away
    finally:
        lab.service("node3", "start")
    lab.wait_healthy()
    assert (
        live(inventory, pool, through).hosts["node3"].through == ""
    )  # found healthy by its own read ...
    assert (
        through.asks("node3") and live(inventory, pool, through).hosts["node3"].through == "node2"
    )  # ... back


def test_a_hung_member_is_asked_once_through_then_over_its_own_ssh(
    lab: LabEnv, reads: tuple[Inventory, Pool]
) -> None:
    inventory, pool = reads
    through = Through(inventory, pool, "node2")
    with frozen(lab.host_root("node3") / "run" / "etcd.pid"):
        first = live(inventory, pool, through)
        assert not first.hosts["node3"].healthy and first.hosts["node3"].through == ""
        assert "nothing listens" not in (
            first.hosts["node3"].error or first.hosts["node3"].health_error or ""
        )
        assert not through.asks("node3") and through.asks("node1") and through.via == "node2"
        started = time.monotonic()
        second = live(inventory, pool, through)
        took = time.monotonic() - started
    assert not second.hosts["node3"].healthy and second.hosts["node1"].through == "node2"
    assert took < 15, (
        f"a poll with a hung member took {took:.1f}s"
    )  # its own read's bound, not the via curl's too
    lab.wait_healthy()


def test_a_via_host_whose_sshd_is_gone_hands_over_to_another(
    lab: LabEnv, reads: tuple[Inventory, Pool]
) -> None:
    """node2's SSH refuses (its sshd stopped by pid; etcd keeps running): the poll reads every
    member over its own SSH, node2 is named unreachable, and the next poll is read through
    another host."""
    import os
    import signal
    import subprocess

    inventory, pool = reads
    through = Through(inventory, pool, "node2")
    pidfile = lab.host_root("node2") / "run" / "sshd.pid"
    sshd = int(pidfile.read_text())
    pool.get("node2").close()
    os.kill(sshd, signal.SIGTERM)
    try:
        for _ in range(100):
            if not os.path.exists(f"/proc/{sshd}"):
                break
            time.sleep(0.05)
        facts = live(inventory, pool, through)
        assert not facts.hosts["node2"].reachable and facts.hosts["node1"].healthy
        assert through.failed == {"node2"} and through.via in ("node1", "node3")
        again = live(inventory, pool, through)
        assert (
            again.hosts["node1"].through == through.via
            and again.hosts["node2"].through == through.via
        )
    finally:
        root = lab.host_root("node2")
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
        for _ in range(100):
            if pidfile.exists() and int(pidfile.read_text() or 0) != sshd:
                break
            time.sleep(0.05)
    lab.wait_healthy()
