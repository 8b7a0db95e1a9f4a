"""Files and directories on a host, read and moved from Python: stat, sha256, set aside.

Shared by the kinds that touch files (template, transfers, move_aside, swap_dir,
etcd_snapshot_restore). Nothing here deletes a directory.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from etcdops.commands import AND, Command, Raw, sh
from etcdops.facts.aside import MARKER  # written into every directory etcdops moves aside
from etcdops.sha256 import parse_sha256sum
from etcdops.steps.base import ExecContext, StepContext

_STAT_FORMAT = "%n|%F|%u|%g|%a|%s"


@dataclass(frozen=True)
class PathState:
    path: str
    kind: str  # "directory", "regular file", "symbolic link", ... or "" when missing
    uid: int = 0
    gid: int = 0
    mode: str = ""
    size: int = 0

    @property
    def exists(self) -> bool:
        return bool(self.kind)

    @property
    def is_dir(self) -> bool:
        return self.kind == "directory"

    @property
    def owner(self) -> str:
        return f"{self.uid}:{self.gid}"


def stat_command(*paths: str) -> Command:
    """stat of each path that exists (one line each); missing ones are simply not printed."""
    return sh("stat", "-c", _STAT_FORMAT, "--", *paths, Raw("2>/dev/null; true"))


def parse_stat(output: str, paths: tuple[str, ...] | list[str]) -> dict[str, PathState]:
    found = {p: PathState(p, "") for p in paths}
    for line in output.splitlines():
        parts = line.rsplit("|", 5)
        if len(parts) == 6 and parts[0] in found:
            name, kind, uid, gid, mode, size = parts
            found[name] = PathState(name, kind, int(uid), int(gid), mode, int(size))
    return found


def stat(ex: ExecContext, *paths: str) -> dict[str, PathState]:
    return parse_stat(ex.run(stat_command(*paths)).stdout, paths)


def is_empty_dir(ex: ExecContext, path: str) -> bool:
    out = ex.run(sh("find", path, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit")).stdout
    return not out.strip()


def remote_sha256(ex: ExecContext, path: str) -> str:
    out = ex.run(sh("sha256sum", "--", path, Raw("2>/dev/null || true"))).stdout
    return parse_sha256sum(out)


def marker_command(aside: str, original: str, reason: str, ex: ExecContext) -> Command:
    data = json.dumps(
        {
            "created_by": "etcdops",
            "run": ex.info.id,
            "original": original,
            "reason": reason,
            "time": ex.info.time,
        }
    )
    return sh("printf", "%s\\n", data, Raw(">"), f"{aside}/{MARKER}")


def move_command(src: str, dest: str) -> Command:
    """A rename that never moves into an existing directory (-T) and never overwrites (-n)."""
    return sh("mv", "-nT", "--", src, dest)


def set_aside(ex: ExecContext, src: str, aside: str, reason: str) -> None:
    """Move src to aside (a sibling: a rename, owner and mode kept) and mark it as etcdops'."""
    ex.run(move_command(src, aside).then(sh("test", "!", "-e", src)))
    mark(ex, aside, src, reason)


def mark(ex: ExecContext, aside: str, original: str, reason: str) -> None:
    state = stat(ex, aside)[aside]
    if state.is_dir:
        ex.run(marker_command(aside, original, reason, ex))


def copy_owner(ex: ExecContext, state: PathState, path: str) -> Command | None:
    if not state.exists:
        return None
    command = sh("chown", "-R", state.owner, path, AND, "chmod", state.mode, path)
    ex.run(command)
    return command


# ----- the etcd dirs of a host, and the suffixes of the names they are moved aside under
SUFFIX_PATTERN = "[a-z][a-z-]*"


def etcd_dirs(ctx: StepContext) -> tuple[str, ...]:
    etcd = ctx.etcd
    return (etcd.data_dir, *((etcd.wal_dir,) if etcd.wal_dir else ()))


def checked_suffix(ctx: StepContext, value: str, what: str) -> str:
    import re

    if not re.fullmatch(SUFFIX_PATTERN, value):
        raise ctx.error(f"{what} {value!r}: lower-case letters and - only")
    return value


def now_stamp() -> str:
    """The UTC time as it appears in the names etcdops gives what it sets aside."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
