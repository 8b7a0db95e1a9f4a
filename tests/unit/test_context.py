"""The control-node helpers runbooks use on snapshot files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from etcdops.context import sha256_file, snapshot_integrity


def snapshot_like(path: Path, pages: int = 4) -> bytes:
    body = bytes(range(256)) * (16 * pages)  # whole 4 KiB pages, like a bbolt file
    path.write_bytes(body + hashlib.sha256(body).digest())
    return body


def test_integrity_accepts_the_sha256_trailer_of_snapshot_save(tmp_path: Path) -> None:
    snap = tmp_path / "good.db"
    snapshot_like(snap)
    assert snapshot_integrity(str(snap)) == ""
    assert sha256_file(str(snap)) == hashlib.sha256(snap.read_bytes()).hexdigest()


def test_integrity_names_truncation_corruption_and_missing_files(tmp_path: Path) -> None:
    snap = tmp_path / "s.db"
    body = snapshot_like(snap)
    snap.write_bytes(
        body[:5000]
    )  # truncated (the cached answer for the old version must not be reused)
    assert "no sha256 trailer" in snapshot_integrity(str(snap))
    corrupt = tmp_path / "c.db"
    snapshot_like(corrupt)
    data = bytearray(corrupt.read_bytes())
    data[100] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    assert "corrupt" in snapshot_integrity(str(corrupt))
    raw = (
        tmp_path / "db"
    )  # a member's data file copied as is has no trailer: restore would refuse it
    raw.write_bytes(body)
    assert "no sha256 trailer" in snapshot_integrity(str(raw))
    assert snapshot_integrity(str(tmp_path / "missing.db")) == "cannot be read"
