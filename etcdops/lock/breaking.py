"""`--break-lock`: remove a cluster lock left by a runner that died, never one whose holder is
alive where that can be known (etcdops/lock/__init__.py, docs/faults.md)."""

from __future__ import annotations

from collections.abc import Callable

from etcdops.errors import EtcdopsError, Locked
from etcdops.inventory import Inventory
from etcdops.lock import (
    LOCK_KEY,
    LOCK_TIMEOUT,
    ClusterLock,
    key_holder_alive,
    lock_file,
    read_files,
)
from etcdops.lock.holder import Holder, new_holder
from etcdops.templating import quote
from etcdops.transport.pool import Pool


def break_lock(
    inventory: Inventory,
    pool: Pool,
    via: str | None,
    note: Callable[[str], None] = lambda _m: None,
) -> list[str]:
    """Remove the etcd lock key and every lock file, unless a holder is alive where that can be
    known (Locked then, and nothing removed); returns what was removed."""
    lock = ClusterLock(inventory, pool, new_holder("break", "break-lock"), "etcd", via)
    has_key = False
    if via is not None:
        try:
            value = lock.key_state().value
        except EtcdopsError as exc:
            note(f"cannot read the etcd lock key: {exc}")
            value = ""
        has_key = bool(value)
        holder = Holder.parse(value) if value else None
        refusal = key_holder_alive(lock, holder) if holder is not None else None
        if holder is not None and refusal:
            raise Locked(
                f"--break-lock refused: the cluster lock is held by {holder.describe()}, which is "
                f"alive: {refusal}; nothing was removed"
            )
    files = read_files(inventory, pool)
    for name, text in files.items():
        holder = Holder.parse(text)
        here = holder.alive_here() if holder is not None else False
        if holder is not None and here:
            raise Locked(
                f"--break-lock refused: the lock file {lock_file(inventory.host(name))} on {name} "
                f"is held by {holder.describe()}, whose runner is alive on this control host "
                "(same pid and start time); stop it (SIGTERM: it stops at its next safe point and "
                "releases the lock) or let it finish; nothing was removed"
            )
        if holder is not None and here is None:
            note(
                f"cannot tell whether the runner of the lock file on {name} ({holder.describe()}) "
                "is alive (another control host, and a lock file has no lease); removing it: if "
                "it is alive, it stops with exit 4 at its next safe point"
            )
    removed = []
    if has_key:
        try:
            lock._run_any(lambda ctl: f"{ctl} del {LOCK_KEY}")
            removed.append(f"etcd key {LOCK_KEY}")
        except EtcdopsError as exc:
            note(f"could not remove the etcd key {LOCK_KEY}: {exc}")
    for name, text in files.items():
        path = quote(lock_file(inventory.host(name)))
        # only the lock that was judged: not one another run took meanwhile
        same = f'[ "$(cat {path} 2>/dev/null)" = {quote(text.rstrip(chr(10)))} ]'
        try:
            if pool.get(name).run(f"{same} && rm -f {path}", LOCK_TIMEOUT).ok:
                removed.append(f"{name}:{lock_file(inventory.host(name))}")
        except EtcdopsError as exc:
            note(f"could not remove the lock file on {name}: {exc}")
    return removed
