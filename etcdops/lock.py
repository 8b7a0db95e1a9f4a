"""The cluster lock: one run at a time per cluster.

In etcd itself (the default): the key `etcdops/lock`, bound to a lease that the run keeps
alive (`lease keep-alive --once` every TTL/3 seconds from the control node, over SSH). If the
runner dies, nobody renews the lease and the lock expires after TTL seconds.

As lock files (runbooks with `lock: files`, e.g. restore, where etcd is stopped): the file
`etcdops_lock_file` (default /var/lock/etcdops.lock) on every member host, created with
noclobber. A file lock does not expire: `--resume` takes over its own run's lock, and
`--break-lock` removes a lock left by a runner that died.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from etcdops.commands import auth_env, etcdctl_fragment
from etcdops.errors import ConnectError, EtcdopsError, HostKeyError, Locked
from etcdops.inventory import Host, Inventory
from etcdops.templating import quote, revealed
from etcdops.transport import Result
from etcdops.transport.pool import Pool

LOCK_KEY = "etcdops/lock"
DEFAULT_LOCK_FILE = "/var/lock/etcdops.lock"
LOCK_TIMEOUT = 30.0


def lock_ttl() -> int:
    return max(3, int(os.environ.get("ETCDOPS_LOCK_TTL", "30")))


@dataclass(frozen=True)
class Holder:
    run_id: str
    runbook: str
    user: str
    control: str
    pid: int
    since: str

    def text(self) -> str:
        return (
            f"run={self.run_id} runbook={self.runbook} user={self.user} control={self.control} "
            f"pid={self.pid} since={self.since}"
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
            )
        except (KeyError, ValueError):
            return None

    def describe(self) -> str:
        return (
            f"run {self.run_id} ({self.runbook}) by {self.user} on {self.control} (pid {self.pid}) "
            f"since {self.since}"
        )


def new_holder(run_id: str, runbook: str) -> Holder:
    def safe(value: str) -> str:
        return "".join(c if c.isalnum() or c in "._-@:" else "_" for c in value) or "?"

    return Holder(
        run_id=safe(run_id),
        runbook=safe(runbook),
        user=safe(getpass.getuser()),
        control=safe(socket.gethostname()),
        pid=os.getpid(),
        since=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def lock_file(host: Host) -> str:
    return host.lock_file or DEFAULT_LOCK_FILE


class ClusterLock:
    def __init__(
        self,
        inventory: Inventory,
        pool: Pool,
        holder: Holder,
        mode: str,
        via: str | None,
        on_note: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.inventory, self.pool, self.holder, self.mode, self.via = (
            inventory,
            pool,
            holder,
            mode,
            via,
        )
        self.note = on_note
        self._lease: str | None = None
        self._files: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----- acquire / release ------------------------------------------------
    def acquire(self) -> None:
        if self.mode == "none":
            return
        if self.mode == "etcd":
            self._check_no_files()
            try:
                self._acquire_etcd()
            except Locked:
                raise
            except EtcdopsError as exc:
                if "space exceeded" not in str(exc):
                    raise
                # NOSPACE: etcd refuses the lease; compact-defrag must still run, under lock files
                self.note(
                    "etcd cannot store the lock (NOSPACE alarm): using lock files on every member"
                )
                self._acquire_files()
        else:
            self._acquire_files()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=LOCK_TIMEOUT)
        try:
            if self._lease is not None:
                self._run(self._ctl() + f" lease revoke {self._lease}")
            for name in self._files:
                path = quote(lock_file(self.inventory.host(name)))
                self.pool.get(name).run(
                    f"grep -q {quote('run=' + self.holder.run_id + ' ')} {path} && rm -f {path}",
                    LOCK_TIMEOUT,
                )
        except EtcdopsError as exc:
            self.note(f"could not release the lock cleanly: {exc}")

    def __enter__(self) -> ClusterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ----- etcd --------------------------------------------------------------
    def _ctl(self) -> str:
        assert self.via is not None
        members = [h.etcd.client_url for h in self.inventory.members if h.etcd]
        with revealed():
            return str(
                etcdctl_fragment(
                    self.inventory.host(self.via).etcd,  # type: ignore[arg-type]
                    endpoints=",".join(members) or None,
                )
            )

    def _run(self, command: str) -> str:
        assert self.via is not None
        env = {k: v.reveal() for k, v in auth_env(self.inventory.host(self.via).etcd)} or None
        # auth over stdin, never argv
        result = self.pool.get(self.via).run(command, LOCK_TIMEOUT, env=env)
        if not result.ok:
            raise EtcdopsError(
                f"cluster lock on {self.via}: {(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def _acquire_etcd(self) -> None:
        if self.via is None:
            raise Locked("the cluster lock cannot be taken: no healthy member to ask")
        ctl = self._ctl()
        value = self.holder.text()
        # the txn: create the key only if it does not exist, bound to our lease; else show the
        # holder
        body = (
            f'create("{LOCK_KEY}") = "0"\n\n'
            f'put {LOCK_KEY} "{value}" --lease=%s\n\nget {LOCK_KEY}\n\n'
        )
        script = (
            f"lease=$({ctl} lease grant {lock_ttl()} | awk '{{print $2}}') && [ -n \"$lease\" ] "
            "|| exit 1; "
            f'echo "lease=$lease"; printf {quote(body)} "$lease" | {ctl} txn'
        )
        out = self._run(script)
        lease = next((line[6:] for line in out.splitlines() if line.startswith("lease=")), "")
        if "SUCCESS" in out.splitlines():
            self._lease = lease
            self._thread = threading.Thread(
                target=self._keep_alive, name="etcdops-lock", daemon=True
            )
            self._thread.start()
            return
        self._run(f"{ctl} lease revoke {lease}")
        current = next(
            (Holder.parse(line) for line in out.splitlines() if line.startswith("run=")), None
        )
        if current is not None and current.run_id == self.holder.run_id:  # our own run, resumed
            self.note(f"taking over the lock of run {current.run_id} (resumed)")
            self._run(f"{ctl} del {LOCK_KEY}")
            return self._acquire_etcd()
        if current:
            resume = (
                "; if that run is yours and its runner is gone, continue it at once with "
                f"`etcdops run --resume {current.run_id}` (which takes the lock over)"
            )
        else:
            resume = ""
        raise Locked(
            "another run holds the cluster lock: "
            f"{current.describe() if current else out.strip()}; "
            f"it expires {lock_ttl()}s after its runner dies{resume}; or remove it with "
            "--break-lock"
        )

    def _keep_alive(self) -> None:
        interval = lock_ttl() / 3
        while not self._stop.wait(interval):
            try:
                self._run(self._ctl() + f" lease keep-alive --once {self._lease}")
            except EtcdopsError as exc:  # the run goes on; the lock may lapse, which we say
                self.note(f"could not renew the cluster lock: {exc}")

    # ----- files -------------------------------------------------------------
    def _acquire_files(self) -> None:
        value = quote(self.holder.text() + " ")
        mine = quote("run=" + self.holder.run_id + " ")

        def one(name: str) -> Result:
            path = quote(lock_file(self.inventory.host(name)))
            return self.pool.get(name).run(
                f"mkdir -p \"$(dirname {path})\" && {{ (set -C; printf '%s\\n' {value} > {path}) "
                "2>/dev/null "
                f"|| grep -q {mine} {path} || {{ cat {path} >&2; exit 3; }}; }}",
                LOCK_TIMEOUT,
            )

        results = self.pool.map(self.inventory.members, one)
        self._files = [n for n, r in results.items() if isinstance(r, Result) and r.ok]
        # a host SSH cannot reach (recover's dead members) holds no file; what it would hold is
        # the others' to hold: refused only when no member could take one
        lost = [
            n
            for n, r in results.items()
            if isinstance(r, ConnectError) and not isinstance(r, HostKeyError)
        ]
        if lost and self._files:
            self.note(
                f"lock files: {', '.join(lost)} cannot be reached over SSH; held on the others"
            )
            results = {n: r for n, r in results.items() if n not in lost}
        for name, result in results.items():
            if isinstance(result, BaseException) or not result.ok:
                self.release()
                if isinstance(result, BaseException):
                    raise EtcdopsError(f"lock file on {name}: {result}")
                current = Holder.parse(result.stderr)
                if result.exit_code == 3:
                    raise Locked(
                        f"another run holds the lock file {lock_file(self.inventory.host(name))} "
                        "on "
                        f"{name}: {current.describe() if current else result.stderr.strip()}; if "
                        "that "
                        "runner is gone, continue it at once with `etcdops run --resume "
                        f"{current.run_id if current else 'RUN_ID'}` (which takes the lock over), "
                        "or remove the lock with --break-lock"
                    )
                raise EtcdopsError(f"lock file on {name}: {result.stderr.strip()}")

    def _check_no_files(self) -> None:
        def one(name: str) -> Result:
            return self.pool.get(name).run(
                f"cat {quote(lock_file(self.inventory.host(name)))} 2>/dev/null || true",
                LOCK_TIMEOUT,
            )

        for name, result in self.pool.map(self.inventory.members, one).items():
            if isinstance(result, BaseException):
                # an unreachable host holds no lock we can see; the etcd lock still applies
                continue
            current = Holder.parse(result.stdout)
            if current is not None and current.run_id != self.holder.run_id:
                raise Locked(
                    f"a lock file {lock_file(self.inventory.host(name))} on {name} is held by "
                    f"{current.describe()}; if that runner is gone, continue it at once with "
                    f"`etcdops run --resume {current.run_id}` (which takes the lock over), or "
                    "remove "
                    "the lock with --break-lock"
                )

    def remove_key(self) -> bool:
        """Delete the etcd lock key whoever holds it (--break-lock); True if there was one."""
        return self._run(self._ctl() + f" del {LOCK_KEY}").strip() not in ("", "0")


def break_lock(inventory: Inventory, pool: Pool, via: str | None) -> list[str]:
    """Remove the etcd lock key and every lock file; returns what was removed."""
    removed = []
    if via is not None:
        lock = ClusterLock(inventory, pool, new_holder("break", "break-lock"), "etcd", via)
        try:
            if lock.remove_key():
                removed.append(f"etcd key {LOCK_KEY}")
        except EtcdopsError:
            pass
    for host in inventory.members:
        path = quote(lock_file(host))
        try:
            if pool.get(host.name).run(f"test -e {path} && rm -f {path}", LOCK_TIMEOUT).ok:
                removed.append(f"{host.name}:{lock_file(host)}")
        except EtcdopsError:
            continue
    return removed
