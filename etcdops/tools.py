"""etcd's own tools on the control node (etcdutl, etcdctl): where etcdops looks for them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def candidate_dirs(project_root: Path) -> list[Path]:
    """Where etcd binaries are looked for, in order: ETCDOPS_ETCD_BIN_DIR, PATH, .tools/etcd."""
    explicit = os.environ.get("ETCDOPS_ETCD_BIN_DIR")
    dirs = [Path(explicit)] if explicit else []
    on_path = shutil.which("etcdutl")
    dirs += [Path(on_path).parent] if on_path else []
    return [*dirs, project_root / ".tools" / "etcd"]
