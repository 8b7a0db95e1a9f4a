"""Snapshot files on the control node: a symlink is followed only to a regular file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from etcdops.snapshots import snapshot_file


def real_snapshot(path: Path) -> Path:
    body = b"\0" * 4096
    path.write_bytes(body + hashlib.sha256(body).digest())  # whole pages + the sha256 trailer
    return path


def test_a_symlink_to_a_regular_snapshot_is_resolved_and_checked_there(tmp_path: Path) -> None:
    target = real_snapshot(tmp_path / "real.db")
    link = tmp_path / "latest.db"
    link.symlink_to(target)
    found = snapshot_file(str(link))
    assert found.problem == "" and found.resolved == str(target) and found.integrity == ""


def test_a_symlink_to_a_directory_a_fifo_or_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for target, what in (
        (tmp_path / "dir", "a directory"),
        (tmp_path / "fifo", "a FIFO"),
        (Path("/dev/zero"), "a device"),
    ):
        link = tmp_path / f"to-{target.name}.db"
        link.symlink_to(target)
        found = snapshot_file(str(link))
        assert what in found.problem and str(link) in found.problem, found.problem


def test_unfinished_and_missing_files_are_refused(tmp_path: Path) -> None:
    part = real_snapshot(tmp_path / "s.db.part")
    assert "unfinished" in snapshot_file(str(part)).problem
    assert "cannot be read" in snapshot_file(str(tmp_path / "missing.db")).problem
    broken = tmp_path / "broken.db"
    broken.symlink_to(tmp_path / "nowhere.db")
    assert "cannot be read" in snapshot_file(str(broken)).problem
