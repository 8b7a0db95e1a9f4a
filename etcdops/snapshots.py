"""Snapshot files on the control node: found, resolved, checked and described, read-only.

`snapshot_file(path)` is what restore's pre-flight reads: the file a path resolves to (a symlink
is followed only to a regular file, and the plan shows where it points), its integrity (the
sha256 trailer `snapshot restore` checks), `etcdutl snapshot status`, and its metadata JSON,
read with bounds (size, depth) and typed (a revision or key count that is not an integer is
refused, not rendered).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from etcdops import paths, units
from etcdops.limits import LimitError, check_json_depth
from etcdops.sha256 import file_and_trailer
from etcdops.snapshot_leases import SnapshotLeases, read_beside, snapshot_leases
from etcdops.tools import candidate_dirs

SNAPSHOT_SUFFIX = ".db"
META_MAX_BYTES = 1 << 20  # a metadata file is a few hundred bytes; anything this large is refused
UNFINISHED = (".part", ".tmp")


def _file_key(path: str) -> tuple[str, int, int] | None:
    """(path, size, mtime): helpers that read a whole file run once per version of it."""
    try:
        st = os.stat(str(path))
    except OSError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def snapshot_status(snapshot: str) -> dict[str, Any]:
    """`etcdutl snapshot status` of a file on the control node; {} if it is not a valid snapshot."""
    tool = local_etcdutl()
    key = _file_key(snapshot)
    if not tool or key is None or not Path(str(snapshot)).is_file():
        return {}
    return dict(_snapshot_status(tool, key))


@lru_cache(maxsize=8)
def _snapshot_status(tool: str, key: tuple[str, int, int]) -> dict[str, Any]:
    snapshot = key[0]
    try:
        proc = subprocess.run(
            [tool, "snapshot", "status", str(snapshot), "-w", "json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        data = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError, IndexError):
        return {}
    return data if isinstance(data, dict) else {}


def local_etcdutl() -> str:
    """etcdutl on the control node, searched where the lab looks for etcd binaries."""
    home = paths.project_root()
    candidates = [folder / "etcdutl" for folder in candidate_dirs(home)]
    return next((str(c.absolute()) for c in candidates if c.is_file()), "")


def latest_snapshot(folder: str) -> str:
    """The newest complete snapshot (with its metadata) in folder, or '' if none."""
    path = Path(folder)
    if not path.is_dir():
        return ""
    found = sorted(
        (p for p in path.glob(f"*{SNAPSHOT_SUFFIX}") if p.with_suffix(".json").is_file()),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    return str(found[-1].absolute()) if found else ""


def snapshot_meta(snapshot: str) -> dict[str, Any]:
    meta, _problem = read_meta(snapshot)
    return meta


def read_meta(snapshot: str) -> tuple[dict[str, Any], str]:
    """(the metadata beside a snapshot, what is wrong with it or ''); no metadata is not wrong."""
    if not str(snapshot):  # no snapshot found: the pre-flight says so
        return {}, ""
    meta = Path(str(snapshot)).with_suffix(".json")
    if not meta.exists():
        return {}, ""
    try:
        if not meta.is_file():
            return {}, f"{meta} is not a regular file"
        if meta.stat().st_size > META_MAX_BYTES:
            return {}, f"{meta} is larger than {META_MAX_BYTES} bytes: not snapshot metadata"
        data = json.loads(meta.read_text())
        check_json_depth(data, str(meta))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, LimitError) as exc:
        return {}, f"{meta} cannot be read: {exc}"
    if not isinstance(data, dict):
        return {}, f"{meta} is not a JSON object"
    for key in ("revision", "keys"):
        if key in data and (
            not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0
        ):
            return {}, f"{meta}: {key} is not a whole number ({str(data[key])[:40]!r})"
    if "sha256" in data and not (
        isinstance(data["sha256"], str)
        and len(data["sha256"]) == 64
        and all(c in "0123456789abcdef" for c in data["sha256"])
    ):
        return {}, f"{meta}: sha256 is not a hex digest"
    return data, ""


def sha256_file(path: str) -> str:
    key = _file_key(path)
    return _sha256(key)[0] if key is not None else ""


@lru_cache(maxsize=16)
def _sha256(key: tuple[str, int, int]) -> tuple[str, str]:
    """(sha256 of the whole file, "ok" if its last 32 bytes are the sha256 of the rest else
    "mismatch")."""
    try:
        whole, ok = file_and_trailer(key[0], key[1])
    except OSError:
        return "", ""
    return whole, "ok" if ok else "mismatch"


def snapshot_integrity(path: str) -> str:
    """'' when the file carries the sha256 trailer `etcdctl snapshot save` appends and it matches
    (exactly the check `snapshot restore` makes before it writes anything); else what is wrong."""
    key = _file_key(path)
    if key is None:
        return "cannot be read"
    if key[1] % 512 != 32:  # etcd's own test: a bbolt file is whole pages; + 32 bytes of sha256
        return (
            f"has no sha256 trailer (size {units.size(key[1])}): truncated, or not written by "
            "`etcdctl snapshot save`"
        )
    whole, verdict = _sha256(key)
    if not whole:
        return "cannot be read"
    return "" if verdict == "ok" else "fails its sha256 trailer check: corrupt"


@dataclass(frozen=True)
class SnapshotFile:
    """Everything restore's pre-flight needs to know about a snapshot on the control node."""

    path: str
    resolved: str  # the file itself (a symlink followed); what is copied and checked
    problem: str  # '' when the path is (or resolves to) a regular, finished file
    tool: str  # etcdutl on the control node, or ''
    integrity: str = ""  # '' when its sha256 trailer matches
    revision: int | None = None  # from `etcdutl snapshot status`
    total_keys: int | None = None
    size: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    meta_problem: str = ""
    found: bool = True  # False: no path, or nothing there (a dangling symlink too)
    remote: str = ""  # REMOTE:PATH/FILE of an off-site snapshot: fetched and checked by a step
    leases: SnapshotLeases | None = None  # read when asked (snapshot_file(path, leases=True))


def snapshot_file(path: str, leases: bool = False) -> SnapshotFile:
    """What the pre-flight of a restore needs to know about the snapshot at path; leases: also the
    leases it brings back (read beside the other reads of the file)."""
    path = str(path)
    tool = local_etcdutl()
    if not path:
        return SnapshotFile(path, path, "no snapshot", tool, found=False)
    if path.endswith(UNFINISHED):
        return SnapshotFile(path, path, f"{path} is an unfinished {Path(path).suffix} file", tool)
    resolved = os.path.realpath(path)
    try:
        st = os.stat(resolved)
    except OSError as exc:
        missing = exc.errno == errno.ENOENT
        return SnapshotFile(
            path, resolved, f"{resolved} cannot be read: {exc.strerror}", tool, found=not missing
        )
    if not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            what = "a directory"
        elif stat.S_ISFIFO(st.st_mode):
            what = "a FIFO"
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            what = "a device"
        else:
            what = "not a regular file"
        via = f" (the symlink {path} points there)" if resolved != path else ""
        return SnapshotFile(path, resolved, f"{resolved}{via} is {what}, not a snapshot file", tool)
    # one pass for the sha256 (and its trailer) while etcdutl reads the file for its status and,
    # for a restore, a throwaway etcd reads its leases: side by side
    with ThreadPoolExecutor(max_workers=2) as pool:
        status_future = pool.submit(snapshot_status, resolved) if tool else None
        leases_future = read_beside(pool, resolved) if leases else None
        integrity = snapshot_integrity(resolved)
        status = status_future.result() if status_future is not None else {}
        readable = not integrity and status.get("revision") is not None
        held = (
            snapshot_leases(resolved, sha256_file(resolved) if readable else "", leases_future)
            if leases and (readable or leases_future is not None)
            else None
        )
    meta, meta_problem = read_meta(path)
    if (
        not meta_problem
        and meta.get("sha256")
        and integrity == ""
        and meta["sha256"] != sha256_file(resolved)
    ):
        meta_problem = "its sha256 differs from the one in its metadata"
    revision = status.get("revision")
    keys = status.get("totalKey")
    return SnapshotFile(
        path,
        resolved,
        "",
        tool,
        integrity,
        revision if isinstance(revision, int) else None,
        keys if isinstance(keys, int) else None,
        st.st_size,
        meta,
        meta_problem,
        leases=held,
    )
