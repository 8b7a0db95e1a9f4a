"""The plan's disk check: what each step will write where, against the free space of each
filesystem, per host; a check per host and filesystem that refuses (exit 3) a run that would
leave less free than the margin (facts/disk.py: 10% of the filesystem or 1 GiB, whichever is
more)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from etcdops import units
from etcdops.commands import Command
from etcdops.errors import EtcdopsError
from etcdops.facts.disk import Filesystem, df_command, local_filesystem, parse_df
from etcdops.steps.base import Write
from etcdops.transport import Result
from etcdops.transport.local import CONTROL


class Runner(Protocol):
    def run(self, host: str, command: Command) -> Result: ...


@dataclass(frozen=True)
class DiskRow:
    """One step's writes on one filesystem, with the free space before and after."""

    host: str
    step: int
    what: str
    path: str
    bytes: int
    mount: str
    free_before: int
    free_after: int


@dataclass(frozen=True)
class DiskCheck:
    host: str
    mount: str
    needed: int
    free: int
    margin: int
    paths: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.free - self.needed >= self.margin

    def message(self) -> str:
        return (
            f"{self.host}: {self.mount} has room for what the run writes there "
            f"({units.size(self.needed)} under "
            f"{', '.join(self.paths)}): {units.size(self.free - self.needed)} free after it, "
            f"{units.size(self.margin)} must stay free"
        )

    def problem(self) -> str:
        return (
            f"{self.host}: {self.mount} has no room for what the run writes there "
            f"({units.size(self.needed)} under {', '.join(self.paths)})"
        )

    def detail(self) -> str:
        return (
            f"needs {units.size(self.needed + self.margin)} free "
            f"(the {units.size(self.needed)} written plus "
            f"{units.size(self.margin)}: 10% of the filesystem or 1 GiB, whichever is more), has "
            f"{units.size(self.free)}"
        )


def plan_disk(
    writes: list[tuple[int, Write]], runner: Runner
) -> tuple[list[DiskRow], list[DiskCheck]]:
    by_host: dict[str, list[tuple[int, Write]]] = defaultdict(list)
    for step, write in writes:
        if write.bytes > 0:
            by_host[write.host].append((step, write))
    rows: list[DiskRow] = []
    checks: list[DiskCheck] = []
    for host, items in by_host.items():
        filesystems = _filesystems(host, sorted({w.path for _, w in items}), runner)
        used: dict[str, int] = defaultdict(int)
        for step, write in items:
            fs = filesystems.get(write.path)
            if fs is None:
                checks.append(DiskCheck(host, "?", write.bytes, 0, 0, (write.path,)))
                continue
            before = fs.free - used[fs.mount]
            used[fs.mount] += write.bytes
            rows.append(
                DiskRow(
                    host,
                    step,
                    write.what,
                    write.path,
                    write.bytes,
                    fs.mount,
                    before,
                    before - write.bytes,
                )
            )
        for mount, total in used.items():
            fs = next(f for f in filesystems.values() if f.mount == mount)
            paths = tuple(
                sorted(
                    {
                        w.path
                        for _, w in items
                        if (f := filesystems.get(w.path)) and f.mount == mount
                    }
                )
            )
            checks.append(DiskCheck(host, mount, total, fs.free, fs.margin, paths))
    return rows, checks


def _filesystems(host: str, paths: list[str], runner: Runner) -> dict[str, Filesystem]:
    if host == CONTROL:
        return {p: fs for p in paths if (fs := local_filesystem(p)) is not None}
    try:
        return parse_df(runner.run(host, df_command(paths)).stdout)
    except EtcdopsError:
        return {}
