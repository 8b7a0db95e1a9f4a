"""Where the lab's etcd binaries come from."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from etcdops.errors import EtcdopsError

TOOLS = ("etcd", "etcdctl", "etcdutl")


def find_etcd_bin_dir(project_root: Path, fetch: bool = True) -> Path:
    """ETCDOPS_ETCD_BIN_DIR, then PATH, then .tools/etcd (fetched from Debian if missing)."""
    explicit = os.environ.get("ETCDOPS_ETCD_BIN_DIR")
    if explicit:
        if _complete(Path(explicit)):
            return Path(explicit)
        raise EtcdopsError(f"ETCDOPS_ETCD_BIN_DIR={explicit}: needs {', '.join(TOOLS)}")
    on_path = shutil.which("etcdutl")
    if on_path and _complete(Path(on_path).parent):
        return Path(on_path).parent
    local = project_root / ".tools" / "etcd"
    if _complete(local):
        return local
    script = project_root / "scripts" / "fetch-etcd.sh"
    if fetch and script.exists():
        subprocess.run(["bash", str(script), str(local)], check=True, timeout=600)
        if _complete(local):
            return local
    raise EtcdopsError("no etcd binaries: run `make setup` or set ETCDOPS_ETCD_BIN_DIR")


def _complete(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) and (folder / tool).is_file() for tool in TOOLS)
