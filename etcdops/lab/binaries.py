"""Where the lab's etcd binaries come from."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from etcdops.errors import EtcdopsError
from etcdops.tools import candidate_dirs

TOOLS = ("etcd", "etcdctl", "etcdutl")
REQUIRED = ("etcd", "etcdctl")  # etcd 3.4 has no etcdutl


def find_etcd_bin_dir(project_root: Path, fetch: bool = True) -> Path:
    """The first complete candidate dir; .tools/etcd is fetched from Debian if missing."""
    explicit = os.environ.get("ETCDOPS_ETCD_BIN_DIR")
    if explicit and not _complete(Path(explicit)):
        raise EtcdopsError(
            f"ETCDOPS_ETCD_BIN_DIR={explicit}: needs {', '.join(REQUIRED)} (and etcdutl on 3.5+)"
        )
    for folder in candidate_dirs(project_root):
        if _complete(folder):
            return folder
    local = project_root / ".tools" / "etcd"
    script = project_root / "scripts" / "fetch-etcd.sh"
    if fetch and script.exists():
        subprocess.run(["bash", str(script), str(local)], check=True, timeout=600)
        if _complete(local):
            return local
    raise EtcdopsError("no etcd binaries: run `make setup` or set ETCDOPS_ETCD_BIN_DIR")


def _complete(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) and (folder / tool).is_file() for tool in REQUIRED)
