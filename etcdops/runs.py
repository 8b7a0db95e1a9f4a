"""Runs on disk: reviewed plans (--save / --plan), the journal a run can be resumed from
(--resume), and the listing of past runs. Reading and comparing only; no I/O to hosts.

A run record (plan.json in the journal, or the file `plan --save` writes) is the plan as
JSON plus what is needed to rebuild it exactly: the run (id, stamp), the non-secret
parameters, the digests of the inventory and runbook files, and the cluster it was built
against (cluster id, member ids, leader).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from etcdops import paths
from etcdops.errors import BadInput, PlanStale
from etcdops.inventory import Inventory
from etcdops.limits import LimitError, check_json_depth, read_config
from etcdops.plan import Plan
from etcdops.serialize import plan_dict
from etcdops.templating import Secret

RECORD_SCHEMA = "etcdops-plan/1"
RECORD_MAX_BYTES = 16 << 20  # a saved plan holds every command and diff; far below this
COMPARED = ("checks", "steps")  # what must be identical between the reviewed and the rebuilt plan


def record(
    plan: Plan, inventory: Inventory, params: dict[str, Any], given: tuple[str, ...] = ()
) -> dict[str, Any]:
    d = plan_dict(plan)
    d.update(
        record=RECORD_SCHEMA,
        run=plan.run.as_dict(),
        assignments=[
            a for a in given if not isinstance(params.get(a.partition("=")[0].strip()), Secret)
        ],
        secret_params=sorted(k for k, v in params.items() if isinstance(v, Secret)),
        digests=digests(inventory, plan.runbook_file, plan.runbook_includes),
        basis=basis(plan),
        vars=frozen_vars(plan),
    )
    return d


def frozen_vars(plan: Plan) -> dict[str, Any]:
    """The runbook's vars that are plain values (a revision, a bump, a token): a resumed or
    reviewed run uses these as they were when the run was planned, not as the cluster reads now
    (a restore's bump is computed from the live revision, which a fenced cluster does not show)."""
    return {k: v for k, v in plan.variables.get("vars", {}).items() if _plain(v)}


def _plain(value: Any) -> bool:
    """A value JSON keeps as it is: a scalar, or a list or mapping of them (a for_each's list)."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def digests(
    inventory: Inventory, runbook_file: str, includes: tuple[str, ...] = ()
) -> dict[str, str]:
    inv = hashlib.sha256()
    for path in sorted(p for p in Path(inventory.path).rglob("*") if p.is_file()):
        inv.update(
            str(path.relative_to(inventory.path)).encode() + b"\0" + path.read_bytes() + b"\0"
        )
    runbook = hashlib.sha256(Path(runbook_file).read_bytes())
    for include in includes:  # the steps it includes are part of it
        runbook.update(b"\0" + include.encode() + b"\0" + Path(include).read_bytes())
    return {"inventory": inv.hexdigest(), "runbook": runbook.hexdigest()}


def basis(plan: Plan) -> dict[str, Any]:
    facts = plan.facts
    uses_leader = any(s.leader for s in plan.steps)  # steps aimed at "the leader" / "the followers"
    return {
        "cluster_id": f"{facts.cluster_id:x}" if facts.cluster_id else None,
        "members": sorted(m.id_hex for m in facts.members),
        "leader": facts.leader_host if uses_leader else None,
    }


def load_record(path: Path) -> dict[str, Any]:
    try:
        text = read_config(path, limit=RECORD_MAX_BYTES)  # a regular file, bounded
        data = json.loads(text)
        check_json_depth(data, str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, LimitError) as exc:
        raise BadInput(f"{path}: not a saved plan: {exc}") from None
    if not isinstance(data, dict) or data.get("record") != RECORD_SCHEMA:
        raise BadInput(f"{path}: not a plan saved by `etcdops plan --save` ({RECORD_SCHEMA})")
    return _checked_run(data, str(path))


def _checked_run(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The record with its run id, stamp and time in etcdops' own forms (they become paths and
    names): refused before anything is read from the hosts."""
    try:
        data["run"] = paths.checked_run(data.get("run"))
    except BadInput as exc:
        raise BadInput(f"{where}: {exc}; nothing was touched") from None
    return data


def check_reviewed(saved: dict[str, Any], rebuilt: dict[str, Any]) -> None:
    """Refuse (PlanStale) when the cluster, the inventory, the runbook or the plan itself
    changed."""
    changes = []
    for key, what in (("inventory", "the inventory"), ("runbook", "the runbook")):
        if saved["digests"][key] != rebuilt["digests"][key]:
            changes.append(f"{what} changed since the plan was reviewed")
    for key in ("cluster_id", "members", "leader"):
        if saved["basis"][key] != rebuilt["basis"][key]:
            changes.append(
                f"{key.replace('_', ' ')}: reviewed {saved['basis'][key]}, now "
                f"{rebuilt['basis'][key]}"
            )
    for key in COMPARED:
        for old, new in zip(saved[key], rebuilt[key], strict=False):
            if _comparable(old) != _comparable(new):
                changes.append(
                    f"{key[:-1]} {old.get('index', '')} '{old.get('name') or old.get('message')}' "
                    "would not be the same as reviewed"
                )
                break
        if len(saved[key]) != len(rebuilt[key]):
            changes.append(f"the number of {key} changed")
    if changes:
        raise PlanStale(
            "the reviewed plan no longer matches the cluster: "
            + "; ".join(changes[:5])
            + ". Make and review a new plan."
        )


def _comparable(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


# ----- the journal ------------------------------------------------------------
def events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill -9: ignored, the step counts as not finished
    return out


def finished_steps(run_dir: Path) -> frozenset[int]:
    """Steps known to have finished (or been skipped) in that run: a resume starts after them."""
    return frozenset(
        int(e["step"])
        for e in events(run_dir)
        if e.get("event") in ("step_finished", "step_skipped") and "step" in e
    )


def run_status(run_dir: Path) -> str:
    result = run_dir / "result.json"
    if result.is_file():
        try:
            return str(json.loads(result.read_text()).get("status", "?"))
        except json.JSONDecodeError:
            return "?"
    return "interrupted" if events(run_dir) else "planned"


def list_runs() -> list[dict[str, Any]]:
    """Every journaled run, oldest first: id, runbook, inventory, when it started, how long it
    took (to its last event when it did not finish), its outcome, steps finished / planned, and how
    many times it was started (a resumed run counts its attempts)."""
    folder = paths.runs_dir()
    return [
        run_summary(run_dir)
        for run_dir in (sorted(folder.iterdir()) if folder.is_dir() else [])
        # a run refused before its plan was written has only its runner.lock
        if run_dir.is_dir() and (run_dir / "plan.json").is_file()
    ]


def run_summary(run_dir: Path) -> dict[str, Any]:
    plan = run_dir / "plan.json"
    try:
        data = json.loads(plan.read_text()) if plan.is_file() else {}
    except (OSError, ValueError):
        data = {}
    journal = events(run_dir)
    times = [str(e["time"]) for e in journal if e.get("time")]
    return {
        "id": run_dir.name,
        "runbook": data.get("runbook", "?"),
        "inventory": data.get("inventory", "?"),
        "started": times[0] if times else None,
        "finished": times[-1] if times else None,
        "duration": _seconds_between(times[0], times[-1]) if times else None,
        "outcome": run_status(run_dir),
        "steps": f"{len(finished_steps(run_dir))}/{len(data.get('steps', []))}",
        "attempts": sum(1 for e in journal if e.get("event") == "run_started"),
        "params": data.get("params") or {},
    }


def _seconds_between(start: str, end: str) -> float | None:
    try:
        began, ended = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
    except ValueError:
        return None
    return round((ended - began).total_seconds(), 3)


def find_run(run_id: str) -> tuple[Path, dict[str, Any]]:
    """The journal folder of a run and its plan record; BadInput if there is no such run."""
    run_dir = paths.run_dir(run_id)
    if not (run_dir / "plan.json").is_file():
        raise BadInput(f"no run {run_id!r} in {paths.runs_dir()} (see `etcdops runs list`)")
    return run_dir, json.loads((run_dir / "plan.json").read_text())


def resumable(run_dir: Path, data: dict[str, Any]) -> str | None:
    """Why the run cannot be resumed, or None."""
    if run_status(run_dir) == "successful":
        return f"run {run_dir.name} already finished successfully; nothing to resume"
    if data.get("record") != RECORD_SCHEMA:
        return f"run {run_dir.name} was journaled by an older etcdops and cannot be resumed"
    return None


def resume_record(run_id: str) -> tuple[Path, dict[str, Any]]:
    run_dir, data = find_run(run_id)
    reason = resumable(run_dir, data)
    if reason:
        raise BadInput(reason)
    data = _checked_run(data, str(run_dir / "plan.json"))
    if data["run"]["id"] != run_id:
        raise BadInput(
            f"{run_dir / 'plan.json'} is the plan of run {data['run']['id']}, not {run_id}"
        )
    return run_dir, data
