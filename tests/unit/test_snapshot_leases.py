"""The leases a restore's plan reads from the snapshot: begun beside its sha256 and status reads,
cached by sha256, and not begun again for the very file read before."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from etcdops import snapshot_leases as sl
from etcdops.snapshot_leases import SnapshotLeases, read_beside, snapshot_leases

SHA = "a" * 64


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Each throwaway-etcd read of a snapshot, recorded instead of run."""
    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path / "home"))
    done: list[str] = []

    def fake(snapshot: str) -> SnapshotLeases:
        done.append(snapshot)
        return SnapshotLeases(2, 3, {"/service/pg/leader": 1, "/service/pg/members": 2})

    monkeypatch.setattr(sl, "_read", fake)
    return done


def plan_reads(snapshot: Path, sha: str) -> SnapshotLeases:
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = read_beside(pool, str(snapshot))
        return snapshot_leases(str(snapshot), sha, started)


def test_read_once_beside_the_other_reads_then_from_the_cache(
    reads: list[str], tmp_path: Path
) -> None:
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x" * 100)
    first = plan_reads(snap, SHA)
    assert first.leases == 2 and first.by_prefix["/service/pg/leader"] == 1
    assert reads == [str(snap)]
    again = plan_reads(snap, SHA)  # the same file: no read begun, the cache answers
    assert again == first and reads == [str(snap)]


def test_a_file_changed_since_is_read_again(reads: list[str], tmp_path: Path) -> None:
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x" * 100)
    plan_reads(snap, SHA)
    snap.write_bytes(b"y" * 200)
    os.utime(snap, ns=(1, 1))
    plan_reads(snap, "b" * 64)  # another size, time and digest: read again
    assert reads == [str(snap), str(snap)]


def test_a_read_that_failed_is_not_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path / "home"))
    calls: list[str] = []

    def failing(snapshot: str) -> SnapshotLeases:
        calls.append(snapshot)
        return SnapshotLeases(problem="a throwaway etcd started from it did not answer")

    monkeypatch.setattr(sl, "_read", failing)
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    assert plan_reads(snap, SHA).problem and plan_reads(snap, SHA).problem
    assert len(calls) == 2
