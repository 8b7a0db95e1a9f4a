"""Snapshots kept, copied off-site and proven by drills, on the real lab (issue 31 sections 3 and 4,
issue 28 item 7), with a real S3 endpoint on loopback: `rclone serve s3` over a directory of the
test, started and stopped by pid. Its credentials are in environment variables and a config file
of the test's tmp dir, never in any process's arguments (sampled while etcdops runs)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    REPO,
    LabEnv,
    SecretWatch,
    Writer,
    check_report_files,
    check_writes,
    net,
    running_lab,
)

NET = net(21)
S3_ADDRESS = f"{NET}200"
S3_PORT = 9000
RCLONE = REPO / ".venv" / "bin" / "rclone"
REMOTE = "s3lab:bucket/lab"
pytestmark = pytest.mark.lab


class S3:
    """`rclone serve s3` over a local directory, on a loopback address of the test's own /24."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "data"
        (self.data / "bucket").mkdir(parents=True)
        self.access = "AKIA" + secrets.token_hex(8).upper()
        self.secret = secrets.token_hex(20)
        self.config = folder / "rclone.conf"
        self.config.write_text(
            "[s3lab]\ntype = s3\nprovider = Rclone\n"
            f"access_key_id = {self.access}\nsecret_access_key = {self.secret}\n"
            f"endpoint = http://{S3_ADDRESS}:{S3_PORT}\n"
        )
        self.config.chmod(0o600)
        env = {
            **os.environ,
            "RCLONE_CONFIG": str(folder / "server.conf"),  # the server reads no config of ours
            "RCLONE_AUTH_KEY": f'"{self.access},{self.secret}"',  # CSV, as rclone's env reads it
        }
        self.log = open(folder / "serve.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(RCLONE), "serve", "s3", "--addr", f"{S3_ADDRESS}:{S3_PORT}", str(self.data)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not _listening(S3_ADDRESS, S3_PORT):
            assert self.proc.poll() is None, (folder / "serve.log").read_text()
            assert time.monotonic() < deadline, "rclone serve s3 did not listen"
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()

    def objects(self) -> list[str]:
        return sorted(p.name for p in (self.data / "bucket" / "lab").glob("*"))


def _listening(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((address, port)) == 0


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    server = S3(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def olab(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Iterator[LabEnv]:
    env = {"RCLONE_CONFIG": str(s3.config), "ETCDOPS_RCLONE": str(RCLONE)}
    with running_lab(tmp_path_factory.mktemp("offsite"), NET, spares=2, env=env) as lab:
        yield lab


def cluster_id(lab: LabEnv) -> str:
    return str(lab.status()["cluster_id"])


def member_pids(lab: LabEnv) -> dict[str, str]:
    return {
        h: (lab.host_root(h) / "run" / "etcd.pid").read_text().strip()
        for h in ("node1", "node2", "node3")
    }


def rclone(s3: S3, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RCLONE), *args],
        env={**os.environ, "RCLONE_CONFIG": str(s3.config)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def foreign_files(lab: LabEnv, s3: S3) -> list[Path]:
    """What a shared backup directory holds besides this cluster's snapshots: another cluster's
    snapshot (with its metadata), a file with this cluster's snapshot name but no metadata, and a
    file that is no snapshot at all; the same off-site."""
    folder = lab.root / "snapshots" / "lab"
    folder.mkdir(parents=True, exist_ok=True)
    cid = cluster_id(lab)
    other = folder / "etcd-badc0ffee-rev3-20250101T000000Z.db"
    other.write_bytes(b"another cluster's snapshot" * 100)
    meta = {"written_by": "etcdops", "cluster_id": "badc0ffee", "revision": 3, "sha256": "0" * 64}
    other.with_suffix(".json").write_text(json.dumps({**meta, "time": "2025-01-01T00:00:00Z"}))
    lookalike = folder / f"etcd-{cid}-rev1-20250101T000000Z.db"
    lookalike.write_bytes(b"an operator's file that happens to have the name")
    notes = folder / "restore-notes.db"
    notes.write_bytes(b"not a snapshot")
    for path in (other, other.with_suffix(".json"), lookalike):
        rclone(s3, "copyto", str(path), f"{REMOTE}/{path.name}")
    return [other, other.with_suffix(".json"), lookalike, notes]


def test_snapshots_go_off_site_verified_and_retention_touches_only_this_clusters(
    olab: LabEnv, s3: S3
) -> None:
    foreign = foreign_files(olab, s3)
    remote_foreign = {p.name for p in foreign if p.name != "restore-notes.db"}
    args = ("-p", f"to={REMOTE}", "-p", "keep=2", "-p", "bundle=true")
    with SecretWatch(s3.secret) as watch:
        for i in range(3):
            olab.ctl("put", "/offsite/k", f"v{i}")
            olab.etcdops("run", "snapshot", "-i", "lab", "--yes", *args, check=True)
            time.sleep(1.1)  # snapshot names carry the time to the second
        plan = olab.etcdops("plan", "snapshot", "-i", "lab", *args, check=True).stdout
    assert watch.samples > 100 and not watch.seen, watch.seen[:2]
    ours = sorted((olab.root / "snapshots" / "lab").glob(f"etcd-{cluster_id(olab)}-rev*Z.db"))
    assert len(ours) == 3  # two kept, and the operator's look-alike file
    for path in foreign:
        assert path.exists(), f"{path.name} was deleted"
    # the plan of the next run lists exactly what it deletes, here and off-site, and why not more
    deletes = [
        line
        for line in plan.splitlines()
        if line.strip().startswith("run   rm -f --") and "/snapshots/lab/" in line
    ]
    assert len(deletes) == 1 and "etcd-badc0ffee" not in deletes[0], plan
    assert plan.count("deletefile") == 3  # the oldest snapshot, its bundle, its metadata
    assert "a snapshot of another cluster (badc0ffee)" in plan
    assert "no metadata beside it" in plan
    objects = s3.objects()
    assert remote_foreign <= set(objects)
    own = [o for o in objects if o.startswith(f"etcd-{cluster_id(olab)}-rev") and o.endswith(".db")]
    assert len(own) == 3 and sum(o.endswith(".bundle.tar.gz") for o in objects) == 2
    listing = json.loads(olab.etcdops("snapshots", "list", "-i", "lab", "-o", "json").stdout)
    cid = cluster_id(olab)
    remote_rows = [r for r in listing["snapshots"] if r["remote"] and r["cluster_id"] == cid]
    assert len(remote_rows) == 2
    assert {r["sha256_state"] for r in remote_rows} == {"read back after upload"}
    assert len([r for r in listing["snapshots"] if not r["remote"] and r["complete"]]) == 3


def test_a_drill_from_off_site_proves_the_snapshot_and_touches_no_member(
    olab: LabEnv, s3: S3, tmp_path: Path
) -> None:
    olab.ctl("put", "/drill/k", "proven")
    olab.etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"to={REMOTE}", check=True)
    before = member_pids(olab)
    endpoints = [olab.client_url(h) for h in ("node1", "node2", "node3")]
    writer = Writer(olab, tmp_path / "writes.json", endpoints)
    report, junit = tmp_path / "drill.json", tmp_path / "drill.xml"
    proc = olab.etcdops(
        "run", "restore-drill", "-i", "lab", "--yes", "-p", "hosts=spares",
        "-p", f"snapshot={REMOTE}/latest", "--report", str(report), "--junit", str(junit),
        timeout=600,
    )  # fmt: skip
    check_writes(olab, writer.stop(), endpoints[0])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert member_pids(olab) == before  # no production member was restarted
    data = json.loads(report.read_text())
    verify = next(s for s in data["steps"] if s["name"].startswith("Verify the drill cluster"))
    proof = verify["hosts"][0]["report"][0]
    assert proof["proven"] is True
    assert {k for k, c in proof["checks"].items() if c["ok"]} >= {
        "healthy", "one_cluster", "revision", "keys", "hashkv_members", "hashkv_source"
    }  # fmt: skip
    check_report_files(report, junit, steps=len(data["steps"]), failures=0)
    for host in ("node4", "node5"):
        lib = olab.host_root(host) / "var" / "lib"
        drilled = list(lib.glob("etcd.drilled-*"))
        assert drilled and (drilled[0] / ".etcdops-set-aside.json").is_file()
        assert not list(lib.glob("etcd.drill-*")) and not list(lib.glob("etcdops-drill-*.db"))
        assert not _listening(olab.address(host), 22379)  # the drill cluster is stopped
    assert any(o.endswith(".drill.json") for o in s3.objects())
    listing = json.loads(olab.etcdops("snapshots", "list", "-i", "lab", "-o", "json").stdout)
    newest_remote = next(r for r in listing["snapshots"] if r["remote"] and r["complete"])
    assert newest_remote["drill"]["proven"] is True


def test_a_corrupt_off_site_snapshot_is_refused_before_any_member_is_touched(
    olab: LabEnv, s3: S3
) -> None:
    olab.ctl("put", "/corrupt/k", "before")
    olab.etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"to={REMOTE}", check=True)
    newest = max(
        (p for p in (s3.data / "bucket" / "lab").glob("*.db") if p.with_suffix(".json").exists()),
        key=lambda p: p.name.rsplit("-", 1)[1],
    )
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # bit rot in the bucket; its metadata untouched
    newest.write_bytes(bytes(data))
    before = member_pids(olab)
    olab.ctl("put", "/corrupt/k", "after")
    for runbook, extra in (("restore", ()), ("restore-drill", ("-p", "hosts=spares"))):
        proc = olab.etcdops(
            "run", runbook, "-i", "lab", "--yes", "-p", f"snapshot={REMOTE}/latest", *extra
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "corrupt or replaced; refused, nothing was touched" in proc.stdout + proc.stderr
    assert member_pids(olab) == before
    assert "after" in olab.ctl("get", "/corrupt/k")
    for host in ("node1", "node2", "node3", "node4", "node5"):
        lib = olab.host_root(host) / "var" / "lib"
        assert not list(lib.glob("etcdops-*.db")) and not list(lib.glob("etcd.pre-restore-*"))
    assert not list((olab.root / ".etcdops" / "fetched" / "lab").glob("*.part"))


def test_an_upload_cut_short_is_never_latest_and_restore_from_off_site_works(
    olab: LabEnv, s3: S3
) -> None:
    olab.ctl("put", "/restore/k", "from-s3")
    olab.etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"to={REMOTE}", check=True)
    good = max(
        (p for p in (s3.data / "bucket" / "lab").glob("*.db") if p.with_suffix(".json").exists()),
        key=lambda p: p.name.rsplit("-", 1)[1],
    )
    cut = good.with_name(good.name.replace(good.name.rsplit("-", 1)[1], "29991231T000000Z.db"))
    cut.write_bytes(good.read_bytes()[:4096])  # an upload killed half-way: no metadata beside it
    olab.ctl("put", "/restore/k", "later")
    proc = olab.etcdops("run", "restore", "-i", "lab", "--yes", "-p", f"snapshot={REMOTE}/latest")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert good.name in proc.stdout and cut.name not in proc.stdout
    assert "from-s3" in olab.ctl("get", "/restore/k")
    olab.wait_healthy()
