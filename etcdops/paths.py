"""Where etcdops keeps what it writes on the control node, in one place.

Two roots. The *project root* is where `-i NAME` (`inventories/NAME/`), `runbooks/`,
`playbooks/` and the lab (`.lab/`) are found: ETCDOPS_HOME when set (and not empty), else the
current directory. The *state directory* holds what etcdops writes for itself (`runs/`, `cache/`,
`rates.json`, `debug.log`) and `snapshots/INVENTORY/`; it must not follow the current directory
(`etcdops runs list` from elsewhere would find no runs, `restore -p snapshot=latest` no snapshot):
with ETCDOPS_HOME it is `$ETCDOPS_HOME/.etcdops/` (and `$ETCDOPS_HOME/snapshots/`), else
`$XDG_STATE_HOME/etcdops/` (`~/.local/state/etcdops/`), one per user, for every inventory.
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


def _home() -> Path | None:
    value = os.environ.get("ETCDOPS_HOME")
    return Path(value).absolute() if value else None


def state_dir() -> Path:
    home = _home()
    if home is not None:
        return home / ".etcdops"
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "etcdops"


def snapshots_dir(inventory: str) -> Path:
    """Where `snapshot` saves and `restore -p snapshot=latest` looks by default."""
    home = _home()
    return (home / "snapshots" if home is not None else state_dir() / "snapshots") / inventory


def legacy_state_dir() -> Path | None:
    """`.etcdops/` in the current directory, where etcdops kept its state before it had one place
    of its own: named to the user when it holds runs the state directory does not show."""
    old = Path.cwd().absolute() / ".etcdops"
    if _home() is not None or old == state_dir() or not (old / "runs").is_dir():
        return None
    return old


def runs_dir() -> Path:
    return state_dir() / "runs"


def run_dir(run_id: str) -> Path:
    """The folder of one run; BadInput unless run_id has the form etcdops gives run ids."""
    return runs_dir() / checked_run_id(run_id)


def rotation_dir(run_id: str) -> Path:
    """Where rotate-certs -p generate=true writes the certificates and keys it makes for a run (and
    the trust bundles of a CA rotation): 0700, reused by a resumed or reviewed run of that id."""
    return run_dir(run_id) / "certs"


def runner_lock(run_id: str) -> Path:
    """The file the one live runner of a run holds an exclusive flock on (execute/runlock.py)."""
    return run_dir(run_id) / "runner.lock"


STAMP = re.compile(r"[0-9]{8}T[0-9]{6}Z")


def checked_run(run: object) -> dict[str, str]:
    """A run record's `run` ({id, stamp, time}) read from a file, each value in the form etcdops
    gives it (the stamp goes into names on the hosts, the id into a path here); BadInput else."""
    if not isinstance(run, dict):
        raise BadInput("the plan's `run` is not {id, stamp, time}")
    run_id, stamp, time = run.get("id"), run.get("stamp"), run.get("time")
    checked_run_id(run_id)
    if (
        not isinstance(stamp, str)
        or not STAMP.fullmatch(stamp)
        or not str(run_id).startswith(stamp + "-")
    ):
        raise BadInput(
            f"{str(stamp)[:80]!r} is not the stamp of run {run_id} (it looks like 20261207T042520Z)"
        )
    if not isinstance(time, str) or len(time) > 40 or not re.fullmatch(r"[0-9T:+.Z-]+", time):
        raise BadInput(f"{str(time)[:80]!r} is not the time of run {run_id}")
    return {"id": str(run_id), "stamp": stamp, "time": time}


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


def inventory_backup(file: Path, stamp: str) -> Path:
    """The copy of an inventory file kept when etcdops changes it (`--update-inventory`): a name
    ending in .bak, which Ansible skips in an inventory directory (a `.bak-STAMP` it would read)."""
    return file.with_name(f"{file.name}.{stamp}.bak")


def fetched_dir(inventory: str) -> Path:
    """Where snapshots fetched from an off-site copy are kept on the control node, per inventory
    (checked there before a restore or a drill uses them; a later fetch of the same bytes reuses
    the copy)."""
    return state_dir() / "fetched" / re.sub(r"[^A-Za-z0-9_.-]", "_", inventory or "default")
