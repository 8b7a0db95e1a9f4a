"""How far a restore bumps the revision so that it never goes backwards (etcd's recovery guide:
`--bump-revision N --mark-compacted` for anything that watches, Kubernetes above all).

The bump is computed from the highest revision etcdops knows for the cluster: the live cluster's
when it answers, else the newest snapshot etcdops saved of it. Above the gap it adds a margin for
the writes that land between the plan and the stop (BUMP_MARGIN: ~11 minutes at 1,500 writes/s)
and is rounded up to a multiple of it, so that a reviewed plan stays the same while the cluster
takes writes. The stop step checks, right before, that the live revision is still below the one
the restore will start from. Nothing known: etcd's documented 1,000,000,000 (a week at 1,500
writes/s).
"""

from __future__ import annotations

import json
from pathlib import Path

BUMP_UNKNOWN = 1_000_000_000
BUMP_MARGIN = 1_000_000
META_MAX_BYTES = 1 << 20


def auto_bump(snapshot_revision: int | None, known: int | None) -> int:
    """The bump for a snapshot at snapshot_revision when known is the highest revision known."""
    if snapshot_revision is None or known is None:
        return BUMP_UNKNOWN
    need = max(0, known - snapshot_revision) + BUMP_MARGIN
    return -(-need // BUMP_MARGIN) * BUMP_MARGIN


def highest_known(live: int | None, snapshot_dir: str, cluster_id: str = "") -> int | None:
    """The live revision, else the highest revision of the snapshots etcdops saved in
    snapshot_dir (of this cluster, when its id is known)."""
    if live is not None:
        return live
    best: int | None = None
    folder = Path(snapshot_dir)
    for meta in folder.glob("*.json") if folder.is_dir() else ():
        try:
            if meta.stat().st_size > META_MAX_BYTES:
                continue
            data = json.loads(meta.read_text())
            revision = int(data["revision"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if cluster_id and data.get("cluster_id") not in ("", cluster_id):
            continue
        best = revision if best is None else max(best, revision)
    return best
