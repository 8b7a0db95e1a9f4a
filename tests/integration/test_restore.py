"""Snapshot and restore on the real lab (issue 3)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.helpers import LabEnv, net, newest_run, running_lab, runs

pytestmark = pytest.mark.lab


def member_ids(lab: LabEnv) -> list[str]:
    return sorted(m["id"] for m in lab.status()["members"])


def snapshot(lab: LabEnv) -> Path:
    lab.etcdops("run", "snapshot", "-i", "lab", "--yes", check=True)
    snaps = sorted((lab.root / "snapshots" / "lab").glob("*.db"), key=lambda p: p.stat().st_mtime)
    return snaps[-1]


def log_times(lab: LabEnv, host: str, message: str) -> list[str]:
    log = (lab.host_root(host) / "var" / "log" / "etcd.log").read_text().splitlines()
    return [json.loads(line)["ts"] for line in log if f'"msg":"{message}"' in line]


def env_file_token(lab: LabEnv, host: str) -> str:
    env = (lab.host_root(host) / "etc" / "etcd" / "etcd.env").read_text()
    return next(
        line.split("=", 1)[1]
        for line in env.splitlines()
        if line.startswith("ETCD_INITIAL_CLUSTER_TOKEN=")
    )


def running_token(lab: LabEnv, host: str) -> str:
    """The token in the environment of the etcd process running now."""
    pid = int((lab.host_root(host) / "run" / "etcd.pid").read_text())
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next(
        v.split(b"=", 1)[1].decode()
        for v in environ
        if v.startswith(b"ETCD_INITIAL_CLUSTER_TOKEN=")
    )


def cluster_id_for(peer_urls: list[str], token: str) -> str:
    """The cluster id etcd derives from the members' peer URLs and the token (etcd's computeMemberId
    and genID): a running cluster with this id was made with this token."""
    import hashlib
    import struct

    ids = sorted(
        struct.unpack(">Q", hashlib.sha1(url.encode() + token.encode()).digest()[:8])[0]
        for url in peer_urls
    )
    digest = hashlib.sha1(b"".join(struct.pack(">Q", i) for i in ids)).digest()
    return f"{struct.unpack('>Q', digest[:8])[0]:x}"


def test_snapshot_writes_verified_copy_and_metadata(lab: LabEnv) -> None:
    snap = snapshot(lab)
    meta = json.loads(snap.with_suffix(".json").read_text())
    assert f"-rev{meta['revision']}-" in snap.name and meta["cluster_id"] in snap.name
    import hashlib

    assert hashlib.sha256(snap.read_bytes()).hexdigest() == meta["sha256"]
    assert meta["status"]["revision"] == meta["revision"] and meta["keys"] >= 0
    assert not list(snap.parent.glob("*.part"))


def test_restore_round_trip(lab: LabEnv) -> None:
    for i in range(5):
        lab.ctl("put", f"/t/before-{i}", "v")
    snap = snapshot(lab)
    for i in range(5):
        lab.ctl("put", f"/t/after-{i}", "v")
    old_cluster = lab.status()["cluster_id"]
    leader = lab.status()["leader"]
    before = runs(lab)
    began = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    proc = lab.etcdops(
        "run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "-p", "token=round-trip-1", "--yes"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # each etcd.env and its backup (the rollback) were on disk before the rename, then the rename
    commands = [
        e
        for line in (newest_run(lab, before) / "events.jsonl").read_text().splitlines()
        if (e := json.loads(line))["event"] == "command"
    ]
    for host in ("node1", "node2", "node3"):
        mine = [e["command"] for e in commands if e["host"] == host]
        synced = next(i for i, c in enumerate(mine) if c.startswith("sync -- ") and ".bak-" in c)
        moved = next(i for i, c in enumerate(mine) if c.startswith("mv -f ") and "etcd.env" in c)
        assert synced < moved and mine[moved].endswith(
            f"&& sync -- {lab.host_root(host) / 'etc' / 'etcd'}"
        )

    # the leader received its stop signal only after every follower had closed (etcd's own logs:
    # the first stop since the run began; the restored members are restarted later)
    def first_since(host: str, message: str) -> str:
        return next(t for t in log_times(lab, host, message) if t >= began)

    hosts = ("node1", "node2", "node3")
    signalled = {h: first_since(h, "received signal; shutting down") for h in hosts}
    closed = {h: first_since(h, "closed etcd server") for h in hosts}
    assert all(signalled[leader] > closed[h] for h in closed if h != leader), (
        leader,
        signalled,
        closed,
    )
    keys = lab.ctl("get", "/t/", "--prefix", "--keys-only").split()
    assert sorted(keys) == [f"/t/before-{i}" for i in range(5)]
    status = lab.status()
    assert status["healthy"] and status["voters"] == 3
    assert status["cluster_id"] != old_cluster  # a new cluster, from the snapshot
    peers = [m["peer_urls"][0] for m in status["members"]]
    assert status["cluster_id"] == cluster_id_for(
        peers, "round-trip-1"
    )  # ... made with the new token
    for host in ("node1", "node2", "node3"):
        assert env_file_token(lab, host) == "round-trip-1"
        assert running_token(lab, host) == "round-trip-1"
        aside = list((lab.host_root(host) / "var" / "lib").glob("etcd.pre-restore-*"))
        assert aside and all((d / "member").is_dir() for d in aside)
        backups = list((lab.host_root(host) / "etc" / "etcd").glob("etcd.env.bak-*"))
        assert backups


def test_restore_twice_with_same_snapshot_and_token_is_healthy(lab: LabEnv) -> None:
    snap = snapshot(lab)
    for _ in range(2):
        proc = lab.etcdops(
            "run",
            "restore",
            "-i",
            "lab",
            "-p",
            f"snapshot={snap}",
            "-p",
            "token=same-token",
            "--yes",
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert lab.status()["healthy"]


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "part"])
def test_bad_snapshot_is_refused_and_cluster_untouched(
    lab: LabEnv, damage: str, tmp_path: Path
) -> None:
    snap = snapshot(lab)
    before = member_ids(lab)
    if damage == "truncated":
        bad = tmp_path / "truncated.db"
        bad.write_bytes(snap.read_bytes()[: snap.stat().st_size // 2])
    elif damage == "corrupt":  # same size, a few bytes changed: `snapshot status` still reads it
        data = bytearray(snap.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 4] = b"XXXX"
        bad = tmp_path / "corrupt.db"
        bad.write_bytes(bytes(data))
    else:
        bad = tmp_path / (snap.name + ".part")
        shutil.copyfile(snap, bad)
    proc = lab.etcdops("run", "restore", "-i", "lab", "-p", f"snapshot={bad}", "--yes")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # a failed pre-flight: refused
    assert "refused: pre-flight check failed" in proc.stderr
    if damage != "part":
        assert "sha256" in proc.stderr and str(bad) in proc.stderr
    assert member_ids(lab) == before and lab.status()["healthy"]


def test_member_that_does_not_stop_stops_the_run_before_any_data_dir(lab: LabEnv) -> None:
    snap = snapshot(lab)
    pid = int((lab.host_root("node2") / "run" / "etcd.pid").read_text())
    dirs_before = {
        h: sorted(p.name for p in (lab.host_root(h) / "var" / "lib").iterdir())
        for h in ("node1", "node2", "node3")
    }
    os.kill(pid, signal.SIGSTOP)  # a hung etcd: SIGTERM stays pending
    try:
        proc = lab.etcdops(
            "run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "-p", "stop_timeout=3", "--yes"
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Stop etcd on every member" in proc.stderr and "node2" in proc.stderr
        assert "No data dir was touched" in proc.stderr
        # the snapshot was restored into a fresh dir beside each live one before the stop (the
        # clients' outage holds none of it): that dir is this run's, and nothing else changed
        stamp = re.search(r"run (\d{8}T\d{6}Z)-", proc.stdout + proc.stderr)
        assert stamp, proc.stdout + proc.stderr
        for host, names in dirs_before.items():
            now = sorted(p.name for p in (lab.host_root(host) / "var" / "lib").iterdir())
            new = sorted(n for n in set(now) - set(names) if n.startswith("etcd."))
            assert new == [f"etcd.restore-{stamp.group(1)}"], now
            assert "etcd" in now, now  # the live data dir where it was (no new pre-restore dir)
        assert "etcd.restore-" in proc.stderr  # the advice names the restored copies
    finally:
        # bring every member back the way the advice says: the start command of each
        for host in ("node1", "node2", "node3"):
            service = lab.host_root(host) / "bin" / "etcd-service"
            subprocess.run(
                [str(service), "stop"], check=True, timeout=60
            )  # node2 exits on its pending TERM
            subprocess.run([str(service), "start"], check=True, timeout=60)
        assert wait_healthy(lab)


def wait_healthy(lab: LabEnv, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.status()["healthy"]:
            return True
        time.sleep(0.5)
    return False


def test_restore_with_bump_revision_marks_old_revisions_compacted(lab: LabEnv) -> None:
    lab.ctl("put", "/bump/k", "v")
    snap = snapshot(lab)
    rev = json.loads(snap.with_suffix(".json").read_text())["revision"]
    proc = lab.etcdops(
        "run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "-p", "bump_revision=1000", "--yes"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--bump-revision 1000 --mark-compacted" in proc.stdout
    status = lab.status()
    assert min(e["revision"] for e in status["endpoints"] if e["revision"]) >= rev + 1000
    # a watcher at an old revision is told it was compacted, not silently given nothing
    old = subprocess.run(
        [
            str(lab.host_root("node1") / "bin" / "etcdctl"),
            f"--endpoints={lab.client_url('node1')}",
            "get",
            "/bump/k",
            f"--rev={rev}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=lab.ctl_env,
    )
    assert old.returncode != 0 and "compacted" in old.stderr
    assert "v" in lab.ctl("get", "/bump/k")


def test_snapshot_keep_prunes_the_oldest(lab: LabEnv) -> None:
    folder = lab.root / "snapshots" / "lab"
    for _ in range(3):
        lab.ctl("put", "/keep/k", str(time.time()))
        lab.etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", "keep=2", check=True)
        time.sleep(1.1)  # snapshot names carry the time to the second
    # retention counts this cluster's snapshots only (issue 28.7): earlier restores of this lab
    # gave it new cluster ids, and their snapshots are another cluster's now, left alone
    mine = f"etcd-{lab.status()['cluster_id']}-rev*"
    dbs = sorted(folder.glob(f"{mine}.db"), key=lambda p: p.stat().st_mtime)
    assert len(dbs) == 2
    assert all(p.with_suffix(".json").is_file() for p in dbs)
    assert len(list(folder.glob(f"{mine}.json"))) == 2


def test_restore_with_a_separate_wal_dir(tmp_path: Path) -> None:

    wal = {"etcd_wal_dir": "{{ host_root }}/var/lib/etcd-wal"}
    with running_lab(tmp_path, net(9), members=3, spares=0, extra_vars=wal) as wlab:
        assert (wlab.host_root("node1") / "var" / "lib" / "etcd-wal").is_dir()
        wlab.ctl("put", "/wal/k", "before")
        snap = snapshot(wlab)
        wlab.ctl("put", "/wal/k", "after")
        proc = wlab.etcdops("run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "--yes")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "before" in wlab.ctl("get", "/wal/k")
        for host in ("node1", "node2", "node3"):
            lib = wlab.host_root(host) / "var" / "lib"
            assert list(lib.glob("etcd-wal.pre-restore-*")), "the old WAL dir was moved aside"
            assert any((lib / "etcd-wal").iterdir()), "the restored WAL is in the WAL dir"
            data_wal = lib / "etcd" / "member" / "wal"
            assert not data_wal.exists() or not any(data_wal.iterdir()), (
                "no WAL inside the data dir"
            )


# ----- restores that clients survive (issue 29) --------------------------------------------------
def highest_revision(lab: LabEnv) -> int:
    return max(e["revision"] for e in lab.status()["endpoints"] if e["revision"])


def test_a_watch_from_before_the_restore_is_told_it_was_compacted_and_the_revision_never_goes_back(
    lab: LabEnv, tmp_path: Path
) -> None:
    from tests.integration.watcher import Watch, compacted, reused_revisions

    lab.ctl("put", "/watched/k", "0")
    snap = snapshot(lab)
    for i in range(20):  # written after the snapshot: lost by the restore
        lab.ctl("put", "/watched/k", str(i + 1))
    before = highest_revision(lab)
    watch = Watch(lab, tmp_path / "watch.json", "/watched/", start_revision=before + 1)
    restored_at = time.time()
    proc = lab.etcdops("run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lab.ctl("put", "/watched/k", "after")
    time.sleep(2)
    result = watch.stop()
    after = highest_revision(lab)
    assert after > before  # the revision went on, never back
    assert compacted(result), result  # the watch was told, as etcd's recovery guide asks
    assert not reused_revisions(result, restored_at), result  # never old revisions again


def test_restored_leases_are_revoked_before_any_client_connects(lab: LabEnv) -> None:
    lease = lab.ctl("lease", "grant", "600").split()[1]
    lab.ctl("put", "/leased/leader", "old-owner", f"--lease={lease}")
    lab.ctl("put", "/leased/plain", "v")
    snap = snapshot(lab)
    plan = lab.etcdops("plan", "restore", "-i", "lab", "-p", f"snapshot={snap}")
    assert "/leased/leader (1)" in plan.stdout, plan.stdout  # the plan names what they hold
    proc = lab.etcdops("run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lab.ctl("get", "/leased/", "--prefix", "--keys-only").split() == ["/leased/plain"]
    assert json.loads(lab.ctl("lease", "list", "-w", "json")).get("leases") in (None, [])
    # kept, they come back alive: the test can tell the difference
    proc = lab.etcdops(
        "run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "-p", "leases=keep", "--yes"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "/leased/leader" in lab.ctl("get", "/leased/", "--prefix", "--keys-only").split()
    assert json.loads(lab.ctl("lease", "list", "-w", "json")).get("leases")


def test_a_restored_member_that_loses_its_data_dir_never_bootstraps_a_cluster_of_its_own(
    lab: LabEnv,
) -> None:
    snap = snapshot(lab)
    proc = lab.etcdops("run", "restore", "-i", "lab", "-p", f"snapshot={snap}", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = (lab.host_root("node3") / "etc" / "etcd" / "etcd.env").read_text()
    assert "ETCD_INITIAL_CLUSTER_STATE=existing" in env.splitlines()
    assert ":12379" not in env  # back on its client URLs
    cluster = lab.status()["cluster_id"]
    data = lab.host_root("node3") / "var" / "lib" / "etcd"
    lost = data.with_name("etcd.lost-by-test")
    lab.service("node3", "stop")
    data.rename(lost)
    try:
        subprocess.run(
            [str(lab.host_root("node3") / "bin" / "etcd-service"), "start"],
            capture_output=True,
            timeout=60,
        )
        time.sleep(3)
        status = json.loads(lab.etcdops("status", "-i", "lab", "-o", "json").stdout)
        node3 = next(e for e in status["endpoints"] if e["host"] == "node3")
        # it is not a cluster of its own: it is down or a member of the same cluster, and named
        assert node3.get("cluster_id") in (None, "", cluster), node3
        assert status["cluster_id"] == cluster
    finally:
        lab.service("node3", "stop")
        if data.exists():
            data.rename(data.with_name("etcd.left-by-test"))
        lost.rename(data)
        lab.service("node3", "start")
        lab.wait_healthy()


def test_the_plan_warns_of_a_snapshot_of_another_cluster(lab: LabEnv, tmp_path: Path) -> None:
    """Issue 28.13: the snapshot's metadata names the cluster it was taken from; a restore of
    another cluster's snapshot says so in the plan (a warning: it may be wanted), and one of this
    cluster's does not."""
    mine = snapshot(lab)
    meta = json.loads(mine.with_suffix(".json").read_text())
    proc = lab.etcdops("plan", "restore", "-i", "lab", "-p", f"snapshot={mine}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ANOTHER CLUSTER" not in proc.stdout
    assert "[ok] the snapshot comes from the live cluster" in proc.stdout, proc.stdout
    other = tmp_path / "other.db"
    shutil.copyfile(mine, other)
    (tmp_path / "other.json").write_text(
        json.dumps(
            {**meta, "cluster_id": "deadbeef12345678", "members": "a=https://127.9.9.9:2380"}
        )
    )
    proc = lab.etcdops("plan", "restore", "-i", "lab", "-p", f"snapshot={other}", "-o", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a warning, not a refusal
    warnings = [w for w in json.loads(proc.stdout)["warnings"] if "ANOTHER CLUSTER" in w]
    assert len(warnings) == 1, proc.stdout
    assert "cluster deadbeef12345678" in warnings[0] and meta["cluster_id"] in warnings[0]
    assert "its members were a=https://127.9.9.9:2380" in warnings[0]
