"""One live runner per run id: an exclusive flock on the run's `runner.lock` (paths.runner_lock),
held for the runner's life.

Whatever the cluster lock says (a resumed run takes over its own run's cluster lock), a second
`run --resume ID` (or `run --plan` of the same reviewed plan) while a runner of that run is alive
is refused with exit 4, naming the live runner's pid. The kernel drops a flock when its process
dies, kill -9 included, so a dead runner never blocks a resume. The file is never removed: two
runners always lock the same file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket

from etcdops import paths
from etcdops.errors import Locked

_held: dict[str, int] = {}  # run id -> the locked file's descriptor, in this process


def claim(run_id: str) -> bool:
    """Become the one runner of run_id (its folder exists or is made); Locked if another process
    is. True if this call took it, False if this process holds it already."""
    if run_id in _held:
        return False
    path = paths.runner_lock(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 512).decode(errors="replace").strip()
        os.close(fd)
        fields = dict(part.split("=", 1) for part in holder.split() if "=" in part)
        raise Locked(
            f"run {run_id} has a live runner already: pid {fields.get('pid', '?')} on "
            f"{fields.get('control', '?')} since {fields.get('since', '?')} (it holds {path}); "
            "one runner per run at a time: let it finish, or stop it (SIGTERM) and resume then; "
            "nothing was touched"
        ) from None
    os.ftruncate(fd, 0)
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    os.write(fd, f"pid={os.getpid()} control={socket.gethostname()} since={since}\n".encode())
    _held[run_id] = fd
    return True


def release(run_id: str) -> None:
    fd = _held.pop(run_id, None)
    if fd is not None:
        os.close(fd)  # the flock goes with it
