"""The snapshots etcdops wrote, in a local directory or an rclone remote: found, described, and
told apart from anything else that lies there.

A snapshot is `PREFIX-revREV-STAMP.db` (PREFIX `etcd-CLUSTERID`) with files beside it of the same
base name: `.json` (its metadata, written last: a snapshot without it is unfinished),
`.drill.json` (the last restore drill's record), `.bundle.tar.gz` (what a restore on new hosts
needs besides the data). Only a snapshot whose metadata says etcdops wrote it for that cluster
(its cluster id, the revision in its name) counts as this cluster's own: pruning touches nothing
else. Reads only; the commands that read a remote are offsite's, run by the caller (a plan's
probe, a step, the CLI).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from etcdops import offsite, paths
from etcdops.commands import Command
from etcdops.errors import BadInput
from etcdops.limits import LimitError, check_json_depth
from etcdops.offsite import RemotePath
from etcdops.sha256 import file_sha256
from etcdops.snapshots import META_MAX_BYTES, SnapshotFile, local_etcdutl, read_meta
from etcdops.transport import Result
from etcdops.transport.local import LocalTransport

SNAPSHOT_NAME = re.compile(
    r"^(?P<prefix>[A-Za-z0-9_.-]+?)-rev(?P<rev>[0-9]+)-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.db$"
)
META, DRILL, BUNDLE = ".json", ".drill.json", ".bundle.tar.gz"
EXTRAS = (META, DRILL, BUNDLE)  # deleted with the snapshot they belong to
WRITTEN_BY = "etcdops"
LEGACY_KEYS = ("cluster_id", "revision", "sha256", "time")  # metadata from before "written_by"

Runner = Callable[[Command], Result]


@dataclass(frozen=True)
class Entry:
    """One snapshot in one location (a local directory or REMOTE:PATH)."""

    location: str
    name: str  # BASE.db
    size: int
    meta: dict[str, Any] = field(default_factory=dict)
    meta_problem: str = ""  # '' when the metadata is there and readable
    drill: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # the names of this snapshot's files there (the .db first)
    problem: str = ""  # not a regular file, ...
    remote: bool = False
    mtime_ns: int = 0  # local files: what a run compares with what its plan saw

    @property
    def base(self) -> str:
        return self.name[: -len(".db")]

    @property
    def path(self) -> str:
        if self.remote:
            return str(offsite.parse_remote(self.location).child(self.name))
        return str(Path(self.location) / self.name)

    def path_of(self, name: str) -> str:
        if self.remote:
            return str(offsite.parse_remote(self.location).child(name))
        return str(Path(self.location) / name)

    @property
    def revision(self) -> int:
        match = SNAPSHOT_NAME.match(self.name)
        return int(match.group("rev")) if match else -1

    @property
    def time(self) -> dt.datetime:
        match = SNAPSHOT_NAME.match(self.name)
        assert match is not None
        return dt.datetime.strptime(match.group("stamp"), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)

    @property
    def cluster_id(self) -> str:
        return str(self.meta.get("cluster_id") or "")

    @property
    def sha256(self) -> str:
        return str(self.meta.get("sha256") or "")

    @property
    def complete(self) -> bool:
        """Finished: its metadata is there and readable, and the file has the size it records."""
        return not self.problem and bool(self.meta) and not self.meta_problem

    @property
    def proven(self) -> bool:
        """A restore drill proved these very bytes (the record names the snapshot's sha256)."""
        return proven(self.drill, self.sha256)

    def ours(self, cluster_id: str, prefix: str = "") -> str:
        """'' when this is a snapshot etcdops wrote for that cluster; else why it is not."""
        match = SNAPSHOT_NAME.match(self.name)
        if match is None:
            return "its name is not PREFIX-revREV-STAMP.db"
        if self.problem:
            return self.problem
        if not self.meta:
            return self.meta_problem or "no metadata beside it (not etcdops', or unfinished)"
        if self.meta_problem:
            return self.meta_problem
        if self.meta.get("written_by") != WRITTEN_BY and not all(
            k in self.meta for k in LEGACY_KEYS
        ):
            return "its metadata does not say etcdops wrote it"
        if self.cluster_id != cluster_id:
            return f"a snapshot of another cluster ({self.cluster_id or 'none named'})"
        if prefix and match.group("prefix") != prefix:
            return f"its name does not start with {prefix}-rev"
        if self.meta.get("revision") != self.revision:
            return f"its metadata's revision {self.meta.get('revision')} is not its name's"
        return ""


def proven(record: dict[str, Any], sha256: str) -> bool:
    return bool(record.get("proven") is True and sha256 and record.get("sha256") == sha256)


# ----- local -------------------------------------------------------------------------------
def local_entries(folder: str | Path) -> list[Entry]:
    """Every `PREFIX-revREV-STAMP.db` in folder (not below), newest first."""
    root = Path(folder)
    if not root.is_dir():
        return []
    names = {p.name for p in root.iterdir()}
    found = []
    for name in sorted(names):
        if not SNAPSHOT_NAME.match(name):
            continue
        path = root / name
        st = path.lstat()
        problem = ""
        if stat.S_ISLNK(st.st_mode):
            problem = "a symlink, not a file etcdops wrote"
        elif not stat.S_ISREG(st.st_mode):
            problem = "not a regular file"
        meta, meta_problem = read_meta(str(path)) if not problem else ({}, "")
        if not meta and not meta_problem and not problem:
            meta_problem = "no metadata beside it (not etcdops', or unfinished)"
        if meta and isinstance(meta.get("size"), int) and meta["size"] != st.st_size:
            problem = f"its size {st.st_size} is not the {meta['size']} its metadata records"
        base = name[: -len(".db")]
        found.append(
            Entry(
                location=str(root),
                name=name,
                size=st.st_size,
                meta=meta,
                meta_problem=meta_problem,
                drill=read_small_json(root / (base + DRILL)),
                files=(name, *(base + s for s in EXTRAS if base + s in names)),
                problem=problem,
                mtime_ns=st.st_mtime_ns,
            )
        )
    return sorted(found, key=lambda e: (e.time, e.name), reverse=True)


def read_small_json(path: Path) -> dict[str, Any]:
    """A small JSON object etcdops wrote (a drill record), {} when absent or not one."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > META_MAX_BYTES:
            return {}
        data = json.loads(path.read_text())
        check_json_depth(data, str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, LimitError):
        return {}
    return data if isinstance(data, dict) else {}


# ----- remote ------------------------------------------------------------------------------
def remote_entries(where: RemotePath, run: Runner, tool: str) -> list[Entry]:
    """Every snapshot in a remote directory with its metadata and drill record, newest first:
    one listing, and the small .json objects copied into a temporary directory in one go."""
    listed = run(offsite.listing(tool, where))
    if not listed.ok:
        raise BadInput(f"cannot list {where}: {offsite.failure(listed.stderr)}")
    files = offsite.parse_listing(listed.stdout)
    texts: dict[str, Path] = {}
    tmp = Path(tempfile.mkdtemp(prefix="etcdops-meta-"))
    try:
        if any(n.endswith(".json") for n in files):
            copied = run(offsite.metadata_copy(tool, where).fill(TMP=str(tmp)))
            if not copied.ok:
                raise BadInput(
                    f"cannot read the metadata in {where}: {offsite.failure(copied.stderr)}"
                )
        texts = {p.name: p for p in tmp.iterdir() if p.is_file()}
        entries = _remote(where, files, texts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # a problem found in the copy names the object it came from
    return [replace(e, meta_problem=e.meta_problem.replace(str(tmp), str(where))) for e in entries]


def _remote(
    where: RemotePath, files: dict[str, dict[str, Any]], texts: dict[str, Path]
) -> list[Entry]:
    found = []
    for name, item in files.items():
        if not SNAPSHOT_NAME.match(name):
            continue
        base = name[: -len(".db")]
        size = int(item.get("Size") or 0)
        meta: dict[str, Any] = {}
        meta_problem = "no metadata beside it (an upload not finished, or not etcdops')"
        if base + META in texts:
            meta, meta_problem = read_meta_file(texts[base + META])
        elif base + META in files:
            meta_problem = f"its metadata is larger than {offsite.META_MAX}"
        problem = ""
        if meta and isinstance(meta.get("size"), int) and meta["size"] != size:
            problem = f"its size {size} is not the {meta['size']} its metadata records"
        found.append(
            Entry(
                location=str(where),
                name=name,
                size=size,
                meta=meta,
                meta_problem=meta_problem,
                drill=read_small_json(texts[base + DRILL]) if base + DRILL in texts else {},
                files=(name, *(base + s for s in EXTRAS if base + s in files)),
                problem=problem,
                remote=True,
            )
        )
    return sorted(found, key=lambda e: (e.time, e.name), reverse=True)


def read_meta_file(path: Path) -> tuple[dict[str, Any], str]:
    """Snapshot metadata read from wherever it was copied to (snapshots.read_meta's checks)."""
    if path.suffix != ".json":
        return {}, f"{path.name} is not metadata"
    return read_meta(str(path.with_suffix(".db")))


# ----- what a restore or a drill reads at plan time --------------------------------------
def newest(entries: list[Entry], cluster_id: str) -> Entry | None:
    """The newest finished snapshot: of that cluster when there is one of it, else of any."""
    complete = [e for e in entries if e.complete]
    own = [e for e in complete if cluster_id and e.cluster_id == cluster_id]
    chosen = own or complete
    return chosen[0] if chosen else None


def fetched_path(inventory: str, name: str) -> str:
    """Where a remote snapshot is copied on the control node before it is checked and used."""
    return str(paths.fetched_dir(inventory) / name)


def remote_snapshot(value: str, inventory: str, cluster_id: str, run: Runner) -> SnapshotFile:
    """A remote snapshot (`REMOTE:PATH/FILE` or `REMOTE:PATH/latest`) as restore's pre-flight
    reads it: found with its metadata; its bytes are fetched and checked by a step
    (snapshot_fetch) before any member is touched."""
    tool, etcdutl = offsite.rclone_binary(), local_etcdutl()
    where = offsite.parse_remote(value, "snapshot")
    if not tool:
        return SnapshotFile(value, "", "rclone is not installed on the control node", etcdutl)
    try:
        entries = remote_entries(where.parent, run, tool)
    except BadInput as exc:
        return SnapshotFile(value, "", str(exc), etcdutl)
    if where.name == "latest":
        entry = newest(entries, cluster_id)
        if entry is None:
            return SnapshotFile(value, "", f"no finished snapshot in {where.parent}", etcdutl)
    else:
        entry = next((e for e in entries if e.name == where.name), None)
        if entry is None:
            return SnapshotFile(value, "", f"{where} is not there (or not a snapshot)", etcdutl)
    local = fetched_path(inventory, entry.name)
    problem = entry.problem or (
        "" if entry.meta else f"{entry.path}: {entry.meta_problem or 'no metadata'}"
    )
    revision = entry.meta.get("revision")
    return SnapshotFile(
        path=entry.path,
        resolved=local,
        problem=problem,
        tool=etcdutl,
        revision=revision if isinstance(revision, int) else None,
        total_keys=None,
        size=entry.size,
        meta=entry.meta,
        meta_problem=entry.meta_problem if entry.meta else "",
        remote=entry.path,
    )


def local_runner(timeout: float = 120.0) -> Runner:
    """Runs rclone on the control node for the CLI and plan-time helpers."""
    transport = LocalTransport()

    def run(command: Command) -> Result:
        return transport.run(command.text, timeout, env=command.revealed_env() or None)

    return run


def file_age(entry: Entry, now: dt.datetime | None = None) -> float:
    return ((now or dt.datetime.now(dt.UTC)) - entry.time).total_seconds()


def taken_by_run(folder: str | Path, prefix: str, stamp: str) -> Entry | None:
    """The snapshot a run saved in folder (its name carries the run's stamp), finished."""
    found = [
        e
        for e in local_entries(folder)
        if e.name.startswith(f"{prefix}-rev") and e.name.endswith(f"-{stamp}.db") and e.complete
    ]
    return found[0] if len(found) == 1 else None


# ----- what `etcdops snapshots list` shows ---------------------------------------------------
def recorded_remotes(entries: list[Entry]) -> list[str]:
    """The remote directories this inventory's local snapshots were copied to (their metadata's
    `copies`), so that a listing finds them without being told."""
    found: list[str] = []
    for entry in entries:
        for copy in copies_of(entry):
            to = copy.get("to")
            if isinstance(to, str) and "/" in to:
                parent = to.rsplit("/", 1)[0]
                if parent not in found:
                    found.append(parent)
    return found


def copies_of(entry: Entry) -> list[dict[str, Any]]:
    """The off-site copies its metadata records."""
    copies = entry.meta.get("copies")
    return [c for c in copies if isinstance(c, dict)] if isinstance(copies, list) else []


def sha256_state(entry: Entry, verify: bool) -> str:
    """What is known of the snapshot's bytes: checked now (verify, local), read back from the
    remote after upload, or recorded when it was saved (checked then on both ends)."""
    if not entry.sha256:
        return "unknown (no metadata)" if not entry.meta else "none recorded"
    if entry.remote:
        read_back = any(
            isinstance(c, dict)
            and c.get("sha256_read_back") == entry.sha256
            and str(c.get("to", "")).endswith("/" + entry.name)
            for c in copies_of(entry)
        )
        return "read back after upload" if read_back else "recorded"
    if verify:
        return "ok (checked now)" if file_sha256(entry.path) == entry.sha256 else "MISMATCH"
    return "checked at save"


def drill_of(entry: Entry, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest drill record of these bytes, wherever it was found ({} when none)."""
    mine = [r for r in records if entry.sha256 and r.get("sha256") == entry.sha256]
    return max(mine, key=lambda r: str(r.get("time", ""))) if mine else {}


def rows(
    entries: list[Entry], extra_records: list[dict[str, Any]], verify: bool
) -> list[dict[str, Any]]:
    """One row per snapshot and location, for the text table and `-o json`."""
    records = [e.drill for e in entries if e.drill] + extra_records
    now = dt.datetime.now(dt.UTC)
    found = []
    for entry in entries:
        drill = drill_of(entry, records)
        found.append(
            {
                "location": entry.location,
                "remote": entry.remote,
                "name": entry.name,
                "path": entry.path,
                "cluster_id": entry.cluster_id or None,
                "revision": entry.revision,
                "keys": entry.meta.get("keys"),
                "bytes": entry.size,
                "time": entry.time.isoformat(),
                "age_seconds": int(file_age(entry, now)),
                "complete": entry.complete,
                "problem": entry.problem or entry.meta_problem or None,
                "sha256": entry.sha256 or None,
                "sha256_state": sha256_state(entry, verify),
                "bundle": entry.base + BUNDLE in entry.files,
                "drill": {
                    "proven": proven(drill, entry.sha256),
                    "time": drill.get("time"),
                    "run": drill.get("run"),
                    "checks": drill.get("checks"),
                }
                if drill
                else None,
            }
        )
    return found
