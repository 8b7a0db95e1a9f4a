"""etcd 3.4 side by side (Debian bookworm's 3.4.23, no etcdutl): status, snapshot and restore take
their 3.4 paths (`etcdctl snapshot status|restore`) on a lab of their own (127.OCTET.10.N, see
helpers.net)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.helpers import REPO, net, running_lab

pytestmark = pytest.mark.lab
ETCD34 = REPO / ".tools" / "etcd-3.4"


def test_snapshot_and_restore_on_etcd_34(tmp_path: Path) -> None:
    assert (ETCD34 / "etcd").is_file(), "make setup fetches etcd 3.4 into .tools/etcd-3.4"
    with running_lab(
        tmp_path, net(10), members=3, spares=0, env={"ETCDOPS_ETCD_BIN_DIR": str(ETCD34)}
    ) as lab:
        status = lab.wait_healthy()
        assert {e["version"] for e in status["endpoints"]} == {"3.4.23"}
        assert not (lab.host_root("node1") / "bin" / "etcdutl").exists()
        lab.ctl("put", "/v34/before", "1")
        snap = lab.etcdops("run", "snapshot", "-i", "lab", "--yes")
        assert snap.returncode == 0, snap.stdout + snap.stderr
        assert "etcdctl" in snap.stdout and "snapshot status" in snap.stdout
        lab.ctl("put", "/v34/after", "2")
        # 3.4's snapshot restore has no --bump-revision: the default (the revision never goes
        # back) is refused, with the way to do without it
        refused = lab.etcdops("run", "restore", "-i", "lab", "--yes")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "bump_revision=0" in refused.stdout + refused.stderr
        proc = lab.etcdops("run", "restore", "-i", "lab", "-p", "bump_revision=0", "--yes")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        intent = next(
            i for i, line in enumerate(lines) if line.strip().startswith("node1: restore ")
        )
        # among the commands under the intent, the restore itself
        restore_cmd = next(line for line in lines[intent:] if "snapshot restore" in line)
        assert "etcdctl (etcd 3.4)" in lines[intent], lines[intent]
        assert "/bin/etcdctl" in restore_cmd and "etcdutl" not in restore_cmd
        assert lab.ctl("get", "/v34/", "--prefix", "--keys-only").split() == ["/v34/before"]
        assert lab.wait_healthy()["voters"] == 3
        # compact-defrag on 3.4: the gateway gives the figures, but 3.4 ignores `linearizable`, so
        # health before and after every defrag still comes from etcdctl endpoint health
        for i in range(200):
            lab.ctl("put", "/v34/churn", str(i))
        proc = lab.etcdops(
            "run", "compact-defrag", "-i", "lab", "--yes", "-p", "rule=always", "-o", "json"
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(proc.stdout)
        run_id = report["run_id"]
        # 3.4 counts finished compactions and deleted revisions as 3.5 does: each member is told by
        # them
        compaction = next(
            i
            for s in report["steps"]
            for h in s["hosts"]
            for i in h["report"]
            if "compacted_at" in i
        )
        assert set(compaction["finished_by"].values()) == {"counters"}, compaction
        events = [
            json.loads(line)
            for line in (lab.root / ".etcdops" / "runs" / run_id / "events.jsonl")
            .read_text()
            .splitlines()
        ]
        ran = [e["command"] for e in events if e.get("event") == "command"]
        defrags = [i for i, c in enumerate(ran) if c.endswith(" defrag")]
        assert len(defrags) == 3, ran
        for i in defrags:  # before and after each: the gateway's figures, etcdctl's health
            assert "/v3/maintenance/status" in ran[i + 1] and "endpoint health" in ran[i + 2], ran[
                i : i + 3
            ]
        assert lab.wait_healthy()["voters"] == 3
