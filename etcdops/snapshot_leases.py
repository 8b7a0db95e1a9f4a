"""What leases a snapshot brings back, read from the snapshot itself: a scratch restore of it into
a temporary directory on the control node, a throwaway etcd on a free loopback port started from
it, `lease list` and the keys each lease holds, then that etcd stopped (by its pid) and the
scratch removed. The answer is cached by the snapshot's sha256 (.etcdops/cache/): a plan and its
run read it once.

A restore shows it before anything is touched: how many leases, how many keys they hold and
under which prefixes (`/service/pg/leader`, `/registry/leases/kube-node-lease`), since a restore
revokes them (or, with `-p leases=keep`, brings them back alive).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from etcdops import paths
from etcdops.durable import durable
from etcdops.facts.parse import ParseError, parse_lease_list, parse_leased_keys
from etcdops.tools import candidate_dirs

START_TIMEOUT = 60.0  # s for the throwaway etcd to answer
COMMAND_TIMEOUT = 120.0  # s for the scratch restore and each read
PREFIX_DEPTH = 3  # /service/pg/leader; /registry/leases/kube-node-lease/NODE -> its first three


@dataclass(frozen=True)
class SnapshotLeases:
    leases: int = 0
    keys: int = 0  # keys held by a lease
    by_prefix: dict[str, int] = field(default_factory=dict)  # prefix -> keys held by a lease
    problem: str = ""  # why they could not be read ("": read)

    def describe(self) -> str:
        if self.problem:
            return f"the leases it holds could not be read ({self.problem})"
        if not self.leases:
            return "no lease"
        shown = ", ".join(f"{p} ({n})" for p, n in sorted(self.by_prefix.items())[:8])
        more = len(self.by_prefix) - 8
        tail = f" and {more} more prefixes" if more > 0 else ""
        return f"{self.leases} lease(s) holding {self.keys} key(s): {shown}{tail}"


def prefix_of(key: str) -> str:
    """The key itself when it has at most PREFIX_DEPTH segments, else its first PREFIX_DEPTH."""
    lead = "/" if key.startswith("/") else ""
    parts = [p for p in key.split("/") if p]
    return lead + "/".join(parts[:PREFIX_DEPTH])


def summarize(leases: list[int], keys: dict[str, int]) -> SnapshotLeases:
    by_prefix = Counter(prefix_of(k) for k in keys)
    return SnapshotLeases(len(leases), len(keys), dict(by_prefix))


def snapshot_leases(
    snapshot: str, sha256: str, started: Future[SnapshotLeases] | None = None
) -> SnapshotLeases:
    """The leases of the snapshot file (sha256 is its digest, the cache's key); `started`: a read
    of them begun beside the plan's other reads of the file (read_beside)."""
    cache = _cache(sha256)
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text())
            found = SnapshotLeases(int(data["leases"]), int(data["keys"]), dict(data["by_prefix"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # read again
        else:
            _remember(snapshot, sha256)  # the next plan of this very file begins no read
            return found
    found = started.result() if started is not None else _read(snapshot)
    if cache is not None and not found.problem:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            part = cache.with_name(cache.name + ".part")
            data = {"leases": found.leases, "keys": found.keys, "by_prefix": found.by_prefix}
            part.write_text(json.dumps(data))
            durable(part)
            part.rename(cache)
            _remember(snapshot, sha256)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return found


def read_beside(pool: ThreadPoolExecutor, snapshot: str) -> Future[SnapshotLeases] | None:
    """Begin reading the leases of snapshot in pool, beside the sha256 and status reads of the
    same file (a gigabyte snapshot: seconds each), unless this very file (path, size, mtime,
    inode) was read before and its answer is cached: then None, and snapshot_leases finds the
    cache by the sha256 it is given (a file changed since is read again, then)."""
    known = _remembered(snapshot)
    cache = _cache(known)
    if cache is not None and cache.is_file():
        return None
    return pool.submit(_read, snapshot)


def _cache(sha256: str) -> Path | None:
    return paths.cache_dir() / f"leases-{sha256}.json" if sha256 else None


def _file_id(snapshot: str) -> str:
    try:
        st = os.stat(snapshot)
    except OSError:
        return ""
    return f"{os.path.realpath(snapshot)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def _index(snapshot: str) -> Path | None:
    ident = _file_id(snapshot)
    if not ident:
        return None
    return paths.cache_dir() / f"leases-file-{hashlib.sha256(ident.encode()).hexdigest()}.json"


def _remembered(snapshot: str) -> str:
    """The sha256 this file had when its leases were read (only a hint: the cache is keyed by the
    sha256 the plan computes)."""
    index = _index(snapshot)
    try:
        sha = json.loads(index.read_text()).get("sha256", "") if index is not None else ""
    except (OSError, ValueError, AttributeError):
        return ""
    return sha if isinstance(sha, str) and len(sha) == 64 else ""


def _remember(snapshot: str, sha256: str) -> None:
    index = _index(snapshot)
    if index is not None and _remembered(snapshot) != sha256:
        try:
            index.parent.mkdir(parents=True, exist_ok=True)
            index.write_text(json.dumps({"sha256": sha256}))
        except OSError:
            pass  # a hint that cannot be written only costs time


def _tools() -> dict[str, str] | None:
    for folder in candidate_dirs(paths.project_root()):
        found = {t: str(folder / t) for t in ("etcd", "etcdctl", "etcdutl")}
        if all(os.access(p, os.X_OK) for p in found.values()):
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read(snapshot: str) -> SnapshotLeases:
    tools = _tools()
    if tools is None:
        return SnapshotLeases(problem="no etcd, etcdctl and etcdutl on the control node")
    scratch = Path(tempfile.mkdtemp(prefix="etcdops-leases-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        client, peer = _free_port(), _free_port()
        peer_url, client_url = f"http://127.0.0.1:{peer}", f"http://127.0.0.1:{client}"
        data = scratch / "data"
        restore = [tools["etcdutl"], "snapshot", "restore", snapshot, "--data-dir", str(data),
                   "--name", "scratch", "--initial-cluster", f"scratch={peer_url}",
                   "--initial-advertise-peer-urls", peer_url, "--skip-hash-check"]  # fmt: skip
        done = subprocess.run(restore, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        if done.returncode != 0:
            return SnapshotLeases(problem=_last(done.stderr) or "its scratch restore failed")
        with open(scratch / "etcd.log", "wb") as log:
            proc = subprocess.Popen(
                # fmt: skip
                [
                    tools["etcd"],
                    "--data-dir",
                    str(data),
                    "--name",
                    "scratch",
                    "--listen-client-urls",
                    client_url,
                    "--advertise-client-urls",
                    client_url,
                    "--listen-peer-urls",
                    peer_url,
                    "--initial-advertise-peer-urls",
                    peer_url,
                    "--initial-cluster",
                    f"scratch={peer_url}",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        ctl = [tools["etcdctl"], f"--endpoints={client_url}", "--command-timeout=60s"]
        if not _answers(ctl, proc):
            return SnapshotLeases(problem="a throwaway etcd started from it did not answer")
        leases = _ctl(ctl, "lease", "list", "-w", "json")
        keys = _ctl(ctl, "get", "", "--prefix", "--keys-only", "-w", "json")
        if leases is None or keys is None:
            return SnapshotLeases(problem="the throwaway etcd did not list its leases and keys")
        return summarize(parse_lease_list(leases), parse_leased_keys(keys))
    except (OSError, subprocess.SubprocessError, ParseError) as exc:
        return SnapshotLeases(problem=str(exc)[:200])
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(scratch, ignore_errors=True)  # our own scratch copy, never a member's


def _answers(ctl: list[str], proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if _ctl(ctl, "endpoint", "health") is not None:
            return True
        time.sleep(0.1)
    return False


def _ctl(ctl: list[str], *args: str) -> str | None:
    done = subprocess.run([*ctl, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    return done.stdout if done.returncode == 0 else None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _last(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:200] if lines else ""
