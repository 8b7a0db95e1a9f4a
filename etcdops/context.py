"""The variables templates see: inventory, params, vars, facts, the run, and helpers.

Helpers read files on the control node only (snapshot metadata, checksums); they are
read-only and run at plan time.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etcdops.facts.etcdctl import etcdctl, etcdutl, member_line
from etcdops.facts.model import ClusterFacts
from etcdops.facts.space import defrag_reason, mb, rule_ok, space_of
from etcdops.inventory import Host, Inventory
from etcdops.lab.binaries import candidate_dirs

SNAPSHOT_SUFFIX = ".db"


def host_context(host: Host, inventory: Inventory) -> dict[str, Any]:
    ctx = host.as_context()
    if host.etcd is not None:
        client, peer = urlsplit(host.etcd.client_url), urlsplit(host.etcd.peer_url)
        ctx["ports"] = [[client.hostname, client.port], [peer.hostname, peer.port]]
        ctx["etcdctl"] = etcdctl(host.etcd)
        ctx["etcdctl_cluster"] = etcdctl(host.etcd, endpoints=cluster_endpoints(inventory))
        ctx["etcdutl"] = etcdutl(host.etcd)
        ctx["member_line"] = lambda url, _etcd=host.etcd: member_line(_etcd, str(url))
    return ctx


def cluster_endpoints(inventory: Inventory) -> str:
    return ",".join(h.etcd.client_url for h in inventory.members if h.etcd)


def base_context(inventory: Inventory, params: Mapping[str, Any], facts: ClusterFacts,
                 run: Mapping[str, Any]) -> dict[str, Any]:
    hosts = {name: host_context(h, inventory) for name, h in inventory.hosts.items()}
    return {
        "inventory": {"name": inventory.name, "path": str(inventory.path),
                      "initial_cluster": inventory.initial_cluster(),
                      "endpoints": cluster_endpoints(inventory)},
        "hosts": hosts,
        "members": [hosts[h.name] for h in inventory.members],
        "groups": {g: list(names) for g, names in inventory.groups.items()},
        "params": dict(params),
        "facts": facts,
        "run": dict(run),
        "latest_snapshot": latest_snapshot,
        "snapshot_meta": snapshot_meta,
        "sha256": sha256_file,
        "file_exists": lambda p: Path(str(p)).is_file(),
        "file_size": lambda p: Path(str(p)).stat().st_size if Path(str(p)).is_file() else 0,
        "basename": lambda p: Path(str(p)).name,
        "abspath": lambda p: str(Path(str(p)).absolute()),
        "dirname": lambda p: str(Path(str(p)).parent),
        "local_etcdutl": local_etcdutl,
        "snapshot_status": snapshot_status,
        "snapshot_integrity": snapshot_integrity,
        # space: facts are passed in, so the same helper works on live facts at run time
        "space": lambda f, host: space_of(f, host, _quota(inventory, host)),
        "defrag_reason": lambda f, host, rule: defrag_reason(space_of(f, host, _quota(inventory, host)), rule),
        "mb": mb,
        "rule_ok": rule_ok,
    }


def _quota(inventory: Inventory, host: str) -> int | None:
    etcd = inventory.hosts[host].etcd if host in inventory.hosts else None
    return etcd.quota_backend_bytes if etcd else None


def _file_key(path: str) -> tuple[str, int, int] | None:
    """(path, size, mtime): helpers that read a whole file run once per version of it."""
    try:
        st = os.stat(str(path))
    except OSError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def snapshot_status(snapshot: str) -> dict[str, Any]:
    """`etcdutl snapshot status` of a file on the control node; {} if it is not a valid snapshot."""
    tool = local_etcdutl()
    key = _file_key(snapshot)
    if not tool or key is None or not Path(str(snapshot)).is_file():
        return {}
    return dict(_snapshot_status(tool, key))


@lru_cache(maxsize=8)
def _snapshot_status(tool: str, key: tuple[str, int, int]) -> dict[str, Any]:
    snapshot = key[0]
    try:
        proc = subprocess.run([tool, "snapshot", "status", str(snapshot), "-w", "json"], capture_output=True,
                              text=True, timeout=300)
        data = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError, IndexError):
        return {}
    return data if isinstance(data, dict) else {}


def local_etcdutl() -> str:
    """etcdutl on the control node, searched where the lab looks for etcd binaries."""
    home = Path(os.environ.get("ETCDOPS_HOME") or Path.cwd())
    candidates = [folder / "etcdutl" for folder in candidate_dirs(home)]
    return next((str(c.absolute()) for c in candidates if c.is_file()), "")


def latest_snapshot(folder: str) -> str:
    """The newest complete snapshot (with its metadata) in folder, or '' if none."""
    path = Path(folder)
    if not path.is_dir():
        return ""
    found = sorted((p for p in path.glob(f"*{SNAPSHOT_SUFFIX}") if p.with_suffix(".json").is_file()),
                   key=lambda p: (p.stat().st_mtime, p.name))
    return str(found[-1].absolute()) if found else ""


def snapshot_meta(snapshot: str) -> dict[str, Any]:
    if not str(snapshot):  # no snapshot found: the pre-flight says so
        return {}
    meta = Path(str(snapshot)).with_suffix(".json")
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def sha256_file(path: str) -> str:
    key = _file_key(path)
    return _sha256(key)[0] if key is not None else ""


@lru_cache(maxsize=16)
def _sha256(key: tuple[str, int, int]) -> tuple[str, str]:
    """(sha256 of the whole file, "ok" if its last 32 bytes are the sha256 of the rest else "mismatch")."""
    whole, body = hashlib.sha256(), hashlib.sha256()
    size = key[1]
    trailer = b""
    try:
        with open(key[0], "rb") as fh:
            done = 0
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                whole.update(chunk)
                keep = max(0, min(len(chunk), size - 32 - done))
                body.update(chunk[:keep])
                trailer += chunk[keep:]
                done += len(chunk)
    except OSError:
        return "", ""
    ok = len(trailer) == 32 and body.digest() == trailer
    return whole.hexdigest(), "ok" if ok else "mismatch"


def snapshot_integrity(path: str) -> str:
    """'' when the file carries the sha256 trailer `etcdctl snapshot save` appends and it matches
    (exactly the check `snapshot restore` makes before it writes anything); else what is wrong."""
    key = _file_key(path)
    if key is None:
        return "cannot be read"
    if key[1] % 512 != 32:  # etcd's own test: a bbolt file is whole pages; + 32 bytes of sha256
        return (f"has no sha256 trailer (size {key[1]} bytes): truncated, or not written by "
                "`etcdctl snapshot save`")
    whole, verdict = _sha256(key)
    if not whole:
        return "cannot be read"
    return "" if verdict == "ok" else "fails its sha256 trailer check: corrupt"
