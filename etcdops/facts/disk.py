"""Free space on the filesystems a run will write to, read with `df` (on the hosts and the control
node), and the rule that refuses a step that would leave too little.

The rule: a step may write only if afterwards the filesystem keeps free at least 10% of its size or
1 GiB, whichever is more (etcd goes read-only or crashes when its data disk fills, and a member's
data disk is often small and dedicated).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from etcdops.commands import Command, Raw, sh
from etcdops.templating import quote

GiB = 1 << 30
MARGIN_SHARE = 0.10
MARGIN_MIN = GiB


@dataclass(frozen=True)
class Filesystem:
    path: str  # the path asked about
    device: str
    size: int
    free: int
    mount: str

    @property
    def margin(self) -> int:
        return margin(self.size)


def margin(size: int) -> int:
    return max(int(size * MARGIN_SHARE), MARGIN_MIN)


def df_command(paths: list[str]) -> Command:
    """df of each path's nearest existing ancestor (a path that does not exist yet, as a fresh data
    dir, is on its parent's filesystem); one line per path: PATH<TAB>df's line."""
    parts: list[object] = []
    for path in paths:  # `p=VALUE` is one word: the value quoted right after the =
        parts += [
            Raw(f"p={quote(path)};"),
            Raw('while [ ! -e "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done;'),
            Raw("printf"),
            "%s\\t",
            path,
            Raw('; df -PB1 "$p" | tail -n 1;'),
        ]
    return (sh(*parts) if parts else sh("true")).reads()


def parse_df(output: str) -> dict[str, Filesystem]:
    found = {}
    for line in output.splitlines():
        path, _, rest = line.partition("\t")
        fields = rest.split()
        if len(fields) >= 6 and fields[1].isdigit() and fields[3].isdigit():
            found[path] = Filesystem(path, fields[0], int(fields[1]), int(fields[3]), fields[5])
    return found


def local_filesystem(path: str) -> Filesystem | None:
    p = path
    while not os.path.exists(p) and p not in ("/", ""):
        p = os.path.dirname(p) or "/"
    try:
        st = os.statvfs(p or "/")
    except OSError:
        return None
    return Filesystem(
        path, "", st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize, _mount_of(p or "/")
    )


def _mount_of(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path
