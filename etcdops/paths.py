"""Where etcdops keeps what it writes on the control node, in one place.

The project root is ETCDOPS_HOME when set (and not empty), else the current directory. Under it:
`.etcdops/` (runs, caches, rates, the debug log), `snapshots/`, `inventories/`, `runbooks/`.
Nothing here reads or writes files; it only names them. A run id becomes a path only once it
has the form etcdops gives run ids (`RUN_ID`), so that an id read from a saved plan or typed on
the command line can never name a directory outside `.etcdops/runs/`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from etcdops.errors import BadInput

RUN_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")


def project_root() -> Path:
    return Path(os.environ.get("ETCDOPS_HOME") or Path.cwd()).absolute()


def state_dir() -> Path:
    return project_root() / ".etcdops"


def runs_dir() -> Path:
    return state_dir() / "runs"


def run_dir(run_id: str) -> Path:
    """The folder of one run; BadInput unless run_id has the form etcdops gives run ids."""
    return runs_dir() / checked_run_id(run_id)


def checked_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise BadInput(
            f"{str(run_id)[:80]!r} is not a run id (they look like 20261207T042520Z-1a2b3c)"
        )
    return run_id


def cache_dir() -> Path:
    return state_dir() / "cache"


def rates_file() -> Path:
    return state_dir() / "rates.json"


def debug_log() -> Path:
    return state_dir() / "debug.log"


def fetched_dir(inventory: str) -> Path:
    """Where snapshots fetched from an off-site copy are kept on the control node, per inventory
    (checked there before a restore or a drill uses them; a later fetch of the same bytes reuses
    the copy)."""
    return state_dir() / "fetched" / re.sub(r"[^A-Za-z0-9_.-]", "_", inventory or "default")
