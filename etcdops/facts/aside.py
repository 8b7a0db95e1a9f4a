"""What etcdops has set aside on a host: data and WAL dirs moved aside (`DIR.pre-restore-STAMP`,
`.wiped-`, `.removed-`, `.interrupted-`, `.failed-restore-`), etcd.env backups (`.bak-STAMP`),
copies of snapshots left on members (`etcdops-restore-STAMP.db`, `etcdops-snapshot-STAMP.db`,
`etcdops-drill-STAMP.db`), restore drills' data (`.drilled-STAMP`), with
their size and age. A directory counts as etcdops' own only if it carries the marker file etcdops
writes into every directory it moves aside; a file only by its exact name."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

from etcdops.inventory import EtcdConfig
from etcdops.templating import quote

MARKER = ".etcdops-set-aside.json"
STAMP = r"[0-9]{8}T[0-9]{6}Z"
DIR_SUFFIX = re.compile(
    rf"\.(pre-restore|wiped|removed|interrupted|failed-restore|restore|drilled)-{STAMP}(\.interrupted-{STAMP})?$"
)
ENV_BACKUP = re.compile(rf"\.bak-{STAMP}$")
SNAPSHOT_COPY = re.compile(rf"^etcdops-(restore|snapshot|drill)-{STAMP}\.db(\.part|\.json)?$")
# status warns when what is set aside takes more than this share of the filesystem
WARN_SHARE = 0.25


@dataclass(frozen=True)
class AsideItem:
    path: str
    bytes: int
    mtime: float
    marked: bool  # a directory with etcdops' marker in it
    kind: str  # directory | env backup | snapshot copy

    @property
    def ours(self) -> bool:
        return self.marked if self.kind == "directory" else True

    def age(self, now: float | None = None) -> float:
        return (now if now is not None else dt.datetime.now(dt.UTC).timestamp()) - self.mtime


def listing_command(etcd: EtcdConfig) -> str:
    """Shell: one line per candidate, PATH<TAB>BYTES<TAB>MTIME<TAB>MARKED, then `@df` and df's
    output for the data dir's filesystem. Globs only in etcdops' own naming; sizes from du -sb."""
    data, parent, env = (
        quote(etcd.data_dir),
        quote(os.path.dirname(etcd.data_dir.rstrip("/")) or "/"),
        quote(etcd.env_file),
    )
    globs = ['"$b".*-*T*Z*', '"$p"/etcdops-*.db*', '"$e".bak-*']
    if etcd.wal_dir:
        globs.append(f"{quote(etcd.wal_dir)}.*-*T*Z*")
    return (
        f'b={data}; p={parent}; e={env}; for x in {" ".join(globs)}; do [ -e "$x" ] || continue; '
        f'm=no; [ -f "$x"/{MARKER} ] && m=yes; '
        f'printf \'%s\\t%s\\t%s\\t%s\\n\' "$x" "$(du -sb "$x" 2>/dev/null | cut -f1)" '
        f'"$(stat -c %Y "$x")" "$m"; '
        f'done; echo @df; df -PB1 "$p"'
    )


def parse_listing(
    text: str, etcd: EtcdConfig
) -> tuple[tuple[AsideItem, ...], tuple[int, int, str] | None]:
    """(the items that are etcdops' by name, (filesystem size, free, mount) of the data dir's)"""
    items, fs, in_df = [], None, False
    for line in text.splitlines():
        if line == "@df":  # df's header, then its line for the data dir's filesystem
            in_df = True
            continue
        if in_df:
            fields = line.split()
            if len(fields) >= 6 and fields[1].isdigit():
                fs = (int(fields[1]), int(fields[3]), " ".join(fields[5:]))
            continue
        parts = line.split("\t")
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        path, size, mtime, marked = parts
        kind = _kind(path, etcd)
        if kind:
            items.append(AsideItem(path, int(size), float(mtime or 0), marked == "yes", kind))
    return tuple(items), fs


def _kind(path: str, etcd: EtcdConfig) -> str:
    dirs = [etcd.data_dir.rstrip("/"), *([etcd.wal_dir.rstrip("/")] if etcd.wal_dir else [])]
    if path.rstrip("/") in dirs:
        return ""  # the live data dir: never
    if any(path.startswith(d + ".") and DIR_SUFFIX.search(path[len(d) :]) for d in dirs):
        return "directory"
    if path.startswith(etcd.env_file + ".") and ENV_BACKUP.search(path[len(etcd.env_file) :]):
        return "env backup"
    if SNAPSHOT_COPY.match(os.path.basename(path)):
        return "snapshot copy"
    return ""


def parse_age(text: str) -> float:
    """`7d`, `12h`, `30m`, `45s` or `0` → seconds."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([dhms]?)\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not an age such as 7d, 12h, 30m")
    return float(match.group(1)) * {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}[match.group(2)]
