"""Who holds the cluster lock, and whether that runner is alive.

On the control host that holds it, a runner is its pid with that pid's start time (clock ticks
after boot, /proc/PID/stat) within one boot (the boot id): a reused pid is another process.
Elsewhere the only sign of life is the etcd lock's lease being renewed (kept_alive).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "._-@:" else "_" for c in value) or "?"


def this_control() -> str:
    return _safe(socket.gethostname())


def boot_id() -> str:
    """This control host's boot id (Linux), short: a pid and its start time mean one process
    only within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
    except OSError:
        return ""


def process_start(pid: int) -> int | None:
    """The start time of process pid (clock ticks after boot, /proc/PID/stat field 22), or None
    when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Holder:
    run_id: str
    runbook: str
    user: str
    control: str
    pid: int
    since: str
    started: int = 0  # the pid's start time (clock ticks after boot); 0: not recorded
    boot: str = ""  # the control host's boot id; "": not recorded

    def text(self) -> str:
        alive = f"started={self.started} boot={self.boot} " if self.started and self.boot else ""
        return (
            f"run={self.run_id} runbook={self.runbook} user={self.user} control={self.control} "
            f"pid={self.pid} {alive}since={self.since}"
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        try:
            return cls(
                fields["run"],
                fields["runbook"],
                fields["user"],
                fields["control"],
                int(fields["pid"]),
                fields["since"],
                int(fields.get("started", "0") or 0),
                fields.get("boot", ""),
            )
        except (KeyError, ValueError):
            return None

    def describe(self) -> str:
        return (
            f"run {self.run_id} ({self.runbook}) by {self.user} on {self.control} (pid {self.pid}) "
            f"since {self.since}"
        )

    def alive_here(self) -> bool | None:
        """True: its runner is alive on this control host (same boot, the pid has the recorded
        start time); False: it is not (the pid is gone or is another process); None: cannot tell
        (another control host, or a lock written without the start time)."""
        if self.control != this_control() or not self.boot or self.boot != boot_id():
            return None
        return process_start(self.pid) == self.started


def new_holder(run_id: str, runbook: str) -> Holder:
    pid = os.getpid()
    return Holder(
        run_id=_safe(run_id),
        runbook=_safe(runbook),
        user=_safe(getpass.getuser()),
        control=this_control(),
        pid=pid,
        since=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        started=process_start(pid) or 0,
        boot=boot_id(),
    )


SLACK = 1.5  # s: etcd reports whole seconds, and each read takes a round trip over SSH


def kept_alive(
    read: Callable[[], float | None],
    granted: int,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[bool, str]:
    """Whether a lease is being renewed, from its remaining TTL read again and again: a runner
    renews every third of the TTL, so a remaining TTL below two thirds (less the slack) means a
    renewal is overdue (not kept alive); a remaining TTL above what counting down from the first
    read gives (plus the slack) means it was renewed (kept alive). Bounded: one TTL at most.
    Returns (kept alive, what was seen)."""
    first = read()
    start = clock()
    overdue = granted * 2 / 3 - SLACK
    if first is None:
        return False, "the lease is gone"
    if first < overdue:
        return False, f"{first:g}s left of {granted}s: a renewal is overdue"
    while clock() - start < granted * 2 / 3 + 1:
        sleep(1.0)
        now = read()
        elapsed = clock() - start
        if now is None:
            return False, "the lease expired"
        if now > first - elapsed + SLACK:
            return True, (
                f"its remaining TTL went from {first:g}s to {now:g}s in {elapsed:.0f}s: renewed"
            )
        if now < overdue:
            return False, f"{now:g}s left of {granted}s: a renewal is overdue"
    return False, f"not renewed in {clock() - start:.0f}s"
