"""The cluster lock: one run at a time per cluster.

In etcd itself (the default): the key `etcdops/lock`, bound to a lease that the run keeps
alive (`lease keep-alive --once` every TTL/3 seconds from the control node, over SSH, through
the first member host that answers). If the runner dies, nobody renews the lease and the lock
expires after TTL seconds.

As lock files (runbooks with `lock: files`, e.g. restore, where etcd is stopped): the file
`etcdops_lock_file` (default /var/lock/etcdops.lock) on every member host, created with
noclobber. A file lock does not expire: `--resume` takes over its own run's lock, and
`--break-lock` removes a lock left by a runner that died.

Guarantees (docs/faults.md):
- The holder is named by run, runbook, user, control host, pid, the pid's start time and the
  control host's boot id, so that on the same control host a live holder is known for sure
  (a reused pid has another start time). `--break-lock` refuses a holder alive there, and a
  holder elsewhere whose lease is still being renewed.
- Every TTL/3 seconds the runner checks that the lock is still its own (the key's value, or
  each lock file); if it is gone or taken, `lost()` says why and the runner stops at its next
  safe point with exit 4.
- Release goes on past a host that cannot be reached, and says what is left and how it ends.

holder.py says who holds the lock and whether that runner is alive; breaking.py is
`--break-lock`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from etcdops.commands import auth_env, etcdctl_fragment
from etcdops.errors import BadInput, ConnectError, EtcdopsError, HostKeyError, Locked
from etcdops.inventory import Host, Inventory
from etcdops.lock.holder import Holder, kept_alive, new_holder, process_start
from etcdops.templating import quote, revealed
from etcdops.transport import Result
from etcdops.transport.pool import Pool

LOCK_KEY = "etcdops/lock"
DEFAULT_LOCK_FILE = "/var/lock/etcdops.lock"
LOCK_TIMEOUT = 30.0
TTL_ENV = "ETCDOPS_LOCK_TTL"
TTL_DEFAULT, TTL_MIN, TTL_MAX = 30, 3, 3600


def lock_ttl() -> int:
    """The lease's TTL in seconds: ETCDOPS_LOCK_TTL, else 30; BadInput outside 3..3600."""
    text = os.environ.get(TTL_ENV, "").strip()
    if not text:
        return TTL_DEFAULT
    try:
        ttl = int(text)
    except ValueError:
        raise BadInput(
            f"{TTL_ENV}={text[:40]!r}: not a whole number of seconds "
            f"({TTL_MIN} to {TTL_MAX}); nothing was touched"
        ) from None
    if not TTL_MIN <= ttl <= TTL_MAX:
        raise BadInput(
            f"{TTL_ENV}={ttl}: the lock's lease lasts {TTL_MIN} to {TTL_MAX} seconds "
            "(it is renewed every third of it); nothing was touched"
        )
    return ttl


def lock_file(host: Host) -> str:
    return host.lock_file or DEFAULT_LOCK_FILE


@dataclass(frozen=True)
class KeyState:
    value: str  # "": no key
    lease: int  # 0: none
    remaining: float | None  # seconds; None: no such lease (expired, revoked)
    granted: int


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
        self.ttl = lock_ttl()
        self._lease: str | None = None
        self._renewed = 0.0  # time.time() of the last renewal (or the grant)
        self._files: list[str] = []
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lost(self) -> str | None:
        """Why the lock is no longer this run's (gone or taken), once the watch found it."""
        return self._lost

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
        self._thread = threading.Thread(target=self._watch, name="etcdops-lock", daemon=True)
        self._thread.start()

    def release(self) -> list[str]:
        """Release what can be released, on every host that answers; returns (and notes) what is
        left and how it ends."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=LOCK_TIMEOUT)
        left = []
        if self._lease is not None:
            left += self._release_key()
        left += self._release_files()
        for item in left:
            self.note(f"left behind: {item}")
        return left

    def _release_key(self) -> list[str]:
        assert self._lease is not None
        try:
            self._run_any(lambda ctl: f"{ctl} lease revoke {self._lease}", gone_ok=True)
            self._lease = None
            return []
        except EtcdopsError as exc:
            ends = dt.datetime.fromtimestamp(self._renewed + self.ttl, dt.UTC)
            return [
                f"the etcd key {LOCK_KEY} (lease {self._lease}) could not be removed ({exc}); "
                f"it expires by itself {self.ttl}s after its last renewal, at "
                f"{ends.isoformat(timespec='seconds')} at the latest; until then another run is "
                f"refused (exit 4), `etcdops run --resume {self.holder.run_id}` takes it over"
            ]

    def _release_files(self) -> list[str]:
        mine = quote("run=" + self.holder.run_id + " ")

        def one(name: str) -> Result:
            path = quote(lock_file(self.inventory.host(name)))
            return self.pool.get(name).run(
                f"if grep -q {mine} {path} 2>/dev/null; then rm -f {path}; fi", LOCK_TIMEOUT
            )

        left, kept = [], []
        results = self.pool.map(self._files, one) if self._files else {}
        for name, result in results.items():
            if isinstance(result, Result) and result.ok:
                continue
            kept.append(name)
            why = str(result) if isinstance(result, BaseException) else result.stderr.strip()
            left.append(
                f"the lock file {lock_file(self.inventory.host(name))} on {name} ({why}); it "
                "stays until `etcdops run --resume "
                f"{self.holder.run_id}` takes it over, or `--break-lock` removes it, once {name} "
                "can be reached"
            )
        self._files = kept
        return left

    def __enter__(self) -> ClusterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ----- etcd --------------------------------------------------------------
    def _hosts(self) -> list[str]:
        """Where etcdctl is run for the lock: the host it was taken through, then the others."""
        others = [h.name for h in self.inventory.members if h.etcd and h.name != self.via]
        return ([self.via] if self.via else []) + others

    def _ctl(self, name: str | None = None) -> str:
        name = name or self.via
        assert name is not None
        members = [h.etcd.client_url for h in self.inventory.members if h.etcd]
        with revealed():
            return etcdctl_fragment(
                self.inventory.host(name).etcd,  # type: ignore[arg-type]
                endpoints=",".join(members) or None,
            ).shell()

    def _run(self, command: str, name: str | None = None) -> str:
        name = name or self.via
        assert name is not None
        env = {k: v.reveal() for k, v in auth_env(self.inventory.host(name).etcd)} or None
        result = self.pool.get(name).run(
            command, LOCK_TIMEOUT, env=env
        )  # auth over stdin, never argv
        if not result.ok:
            raise EtcdopsError(
                f"cluster lock on {name}: {(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def _run_any(self, build: Callable[[str], str], gone_ok: bool = False) -> str:
        """Run an etcdctl command for the lock through the first member host that answers.
        gone_ok: a lease etcd no longer knows counts as done."""
        problems = []
        for name in self._hosts():
            try:
                return self._run(build(self._ctl(name)), name)
            except ConnectError as exc:
                problems.append(f"{name}: {exc.reason}")
            except EtcdopsError as exc:
                if gone_ok and "lease not found" in str(exc):
                    return ""
                problems.append(str(exc))
        raise EtcdopsError("; ".join(problems) or "no member host to ask")

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
            f"lease=$({ctl} lease grant {self.ttl} | awk '{{print $2}}') && [ -n \"$lease\" ] "
            "|| exit 1; "
            f'echo "lease=$lease"; printf {quote(body)} "$lease" | {ctl} txn'
        )
        out = self._run(script)
        lease = next((line[6:] for line in out.splitlines() if line.startswith("lease=")), "")
        if "SUCCESS" in out.splitlines():
            self._lease = lease
            self._renewed = time.time()
            return
        self._run(f"{ctl} lease revoke {lease}")
        current = next(
            (Holder.parse(line) for line in out.splitlines() if line.startswith("run=")), None
        )
        if current is not None and current.run_id == self.holder.run_id:  # our own run, resumed
            refusal = key_holder_alive(self, current)
            if refusal:
                raise Locked(f"the lock of run {current.run_id} is not taken over: {refusal}")
            self.note(f"taking over the lock of run {current.run_id} (resumed)")
            self._run(f"{ctl} del {LOCK_KEY}")
            return self._acquire_etcd()
        resume = (
            (
                "; if that run is yours and its runner is gone, continue it at once with "
                "`etcdops run "
                f"--resume {current.run_id}` (which takes the lock over)"
            )
            if current
            else ""
        )
        raise Locked(
            "another run holds the cluster lock: "
            f"{current.describe() if current else out.strip()}; "
            f"it expires {self.ttl}s after its runner dies{resume}; or remove it with "
            "--break-lock"
        )

    def key_state(self) -> KeyState:
        """The lock key as etcd has it now: its value, its lease, the lease's remaining and
        granted TTL (seconds)."""
        out = self._run_any(lambda ctl: f"{ctl} get {LOCK_KEY} -w json")
        kvs = json.loads(out or "{}").get("kvs") or []
        if not kvs:
            return KeyState("", 0, None, 0)
        value = base64.b64decode(kvs[0].get("value", "")).decode(errors="replace")
        lease = int(kvs[0].get("lease", 0) or 0)
        if not lease:
            return KeyState(value, 0, None, 0)
        ttl = json.loads(
            self._run_any(lambda ctl: f"{ctl} lease timetolive {lease:x} -w json") or "{}"
        )
        remaining = ttl.get("ttl")
        return KeyState(
            value,
            lease,
            float(remaining) if isinstance(remaining, (int, float)) and remaining > 0 else None,
            int(ttl.get("granted-ttl") or 0),
        )

    # ----- the watch: renew the lease, check the lock is still ours --------------------------
    def _watch(self) -> None:
        interval = self.ttl / 3
        while not self._stop.wait(interval):
            try:
                lost = self._check_etcd() if self._lease is not None else self._check_files()
            except EtcdopsError as exc:  # cannot tell: the run goes on; the lease may lapse
                self.note(f"could not renew or check the cluster lock: {exc}")
                continue
            if lost:
                self._lost = lost
                self.note(f"LOST: {lost}; the run stops at its next safe point")
                return

    def _check_etcd(self) -> str | None:
        mark = "@@value"
        try:
            out = self._run_any(
                lambda ctl: (
                    f"{ctl} lease keep-alive --once {self._lease} >/dev/null && "
                    f"echo {mark} && {ctl} get {LOCK_KEY} --print-value-only"
                )
            )
        except EtcdopsError as exc:
            if "lease not found" in str(exc):
                return (
                    f"its lease {self._lease} expired or was revoked (the key {LOCK_KEY} is gone)"
                )
            raise
        self._renewed = time.time()
        value = out.split(mark, 1)[-1].strip()
        if value == self.holder.text():
            return None
        other = Holder.parse(value)
        if other is None:
            return f"the key {LOCK_KEY} was removed (--break-lock, or by hand)"
        return f"the key {LOCK_KEY} is now held by {other.describe()}"

    def _check_files(self) -> str | None:
        def one(name: str) -> Result:
            path = quote(lock_file(self.inventory.host(name)))
            return self.pool.get(name).run(f"cat {path} 2>/dev/null || true", LOCK_TIMEOUT)

        for name, result in self.pool.map(self._files, one).items():
            if isinstance(result, BaseException) or not result.ok:
                continue  # a host that cannot be reached tells nothing
            current = Holder.parse(result.stdout)
            if current is not None and current.run_id == self.holder.run_id:
                continue
            path = lock_file(self.inventory.host(name))
            if current is None:
                return f"the lock file {path} on {name} was removed (--break-lock, or by hand)"
            return f"the lock file {path} on {name} is now held by {current.describe()}"
        return None

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
        for name, text in read_files(self.inventory, self.pool).items():
            current = Holder.parse(text)
            if current is not None and current.run_id != self.holder.run_id:
                raise Locked(
                    f"a lock file {lock_file(self.inventory.host(name))} on {name} is held by "
                    f"{current.describe()}; if that runner is gone, continue it at once with "
                    f"`etcdops run --resume {current.run_id}` (which takes the lock over), or "
                    "remove "
                    "the lock with --break-lock"
                )


def read_files(inventory: Inventory, pool: Pool) -> dict[str, str]:
    """The text of each member's lock file, where there is one (a host that cannot be reached
    holds no lock we can see; the etcd lock still applies)."""

    def one(name: str) -> Result:
        path = quote(lock_file(inventory.host(name)))
        return pool.get(name).run(f"if [ -e {path} ]; then echo; cat {path}; fi", LOCK_TIMEOUT)

    found = {}
    for name, result in pool.map(inventory.members, one).items():
        if isinstance(result, Result) and result.ok and result.stdout.startswith("\n"):
            found[name] = result.stdout[1:]
    return found


def key_holder_alive(
    lock: ClusterLock, holder: Holder, sleep: Callable[[float], None] = time.sleep
) -> str | None:
    """Why the etcd key's holder must be taken for alive (a refusal), or None. On this control
    host: its pid with the recorded start time. Elsewhere: its lease is still being renewed."""
    here = holder.alive_here()
    if here is not None:
        if here:
            return (
                f"its runner, pid {holder.pid}, is alive on this control host ({holder.control}, "
                "same pid and start time); stop it (SIGTERM: it stops at its next safe point and "
                "releases the lock) or let it finish"
            )
        return None
    state = lock.key_state()
    if not state.lease or Holder.parse(state.value) != holder:
        return None

    def remaining() -> float | None:
        now = lock.key_state()
        return now.remaining if now.lease == state.lease else None

    alive, seen = kept_alive(remaining, state.granted or lock.ttl, sleep)
    if alive:
        return (
            f"its runner on {holder.control} (pid {holder.pid}) is keeping the lock's lease "
            f"{state.lease:x} alive ({seen}); stop that runner or let it finish"
        )
    return None


__all__ = [
    "LOCK_KEY",
    "ClusterLock",
    "Holder",
    "KeyState",
    "key_holder_alive",
    "lock_file",
    "lock_ttl",
    "new_holder",
    "process_start",
    "read_files",
]
