"""Files and directories on a host, read and moved from Python: stat, sha256, set aside.

Shared by the kinds that touch files (template, transfers, move_aside, swap_dir,
etcd_snapshot_restore). Nothing here deletes a directory.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from etcdops.commands import AND, Command, Live, Raw, sh
from etcdops.facts.aside import MARKER  # written into every directory etcdops moves aside
from etcdops.sha256 import parse_sha256sum
from etcdops.steps.base import ExecContext, RunInfo, StepContext

_STAT_FORMAT = "%n|%F|%u|%g|%a|%s"
STAT_FORMAT = _STAT_FORMAT  # for a kind whose paths are known only when it runs


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
    return sh("stat", "-c", _STAT_FORMAT, "--", *paths, Raw("2>/dev/null; true")).reads()


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


def empty_command(path: str) -> Command:
    """Prints the first entry of a directory: nothing when it is empty."""
    return sh("find", path, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit").reads()


def is_empty_dir(ex: ExecContext, path: str) -> bool:
    return not ex.run(empty_command(path)).stdout.strip()


def sha256_command(path: str) -> Command:
    return sh("sha256sum", "--", path, Raw("2>/dev/null || true")).reads()


def remote_sha256(ex: ExecContext, path: str) -> str:
    return parse_sha256sum(ex.run(sha256_command(path)).stdout)


def marker_command(directory: str | Live, original: str, reason: str, run: RunInfo) -> Command:
    """The marker etcdops writes into a directory it moves aside: prune removes only what carries
    one. Written into the directory before it is renamed, so that a moved directory always
    carries it (a crash between the two leaves the marker in a directory not moved yet, which is
    moved on the next run)."""
    data = json.dumps(
        {
            "created_by": "etcdops",
            "run": run.id,
            "original": original,
            "reason": reason,
            "time": run.time,
        }
    )
    if isinstance(directory, Live):
        target = Live(directory.name, prefix=directory.prefix)
        return sh("printf", "%s\\n", data, Raw(">"), target, Raw(f"/{MARKER}"))
    return sh("printf", "%s\\n", data, Raw(">"), f"{directory}/{MARKER}")


def move_command(src: str, dest: str | Live) -> Command:
    """A rename that never moves into an existing directory (-T) and never overwrites (-n), and
    fails unless src is gone afterwards (mv -n exits 0 when it did nothing)."""
    return sh("mv", "-nT", "--", src, dest, AND, "test", "!", "-e", src)


@dataclass(frozen=True)
class SetAside:
    """The commands that move src aside: the marker into it (when it is a directory), then the
    rename. Built once for the plan; execution runs these very commands."""

    src: str
    aside: str
    marker: Command
    move: Command

    @classmethod
    def of(cls, src: str, aside: str, reason: str, run: RunInfo) -> SetAside:
        return cls(src, aside, marker_command(src, src, reason, run), move_command(src, aside))

    @property
    def commands(self) -> tuple[Command, Command]:
        return self.marker, self.move


def set_aside(ex: ExecContext, plan: SetAside, is_dir: bool) -> None:
    """Move src aside (a sibling: a rename, owner and mode kept), a directory marked as etcdops'
    first."""
    if is_dir:
        ex.run(plan.marker)
    ex.run(plan.move)


def owner_command(path: str) -> Command:
    """Gives path (recursively) the owner and mode read from the directory it replaces."""
    return sh("chown", "-R", Live("OWNER"), path, AND, "chmod", Live("MODE"), path)


def copy_owner(ex: ExecContext, state: PathState, command: Command) -> None:
    if state.exists:
        ex.run(command.fill(OWNER=state.owner, MODE=state.mode))


# ----- the etcd dirs of a host, and the suffixes of the names they are moved aside under
SUFFIX_PATTERN = "[a-z][a-z-]*"


def etcd_dirs(ctx: StepContext) -> tuple[str, ...]:
    etcd = ctx.etcd
    return (etcd.data_dir, *((etcd.wal_dir,) if etcd.wal_dir else ()))


def checked_suffix(ctx: StepContext, value: str, what: str) -> str:
    if not re.fullmatch(SUFFIX_PATTERN, value):
        raise ctx.error(f"{what} {value!r}: lower-case letters and - only")
    return value


def now_stamp() -> str:
    """The UTC time as it appears in the names etcdops gives what it sets aside."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
