"""Where a page's data comes from: a run's journal folder (.etcdops/runs/RUN_ID/), found by its id,
a unique prefix of it, or `latest`. A run killed before its end has no report.json: its report is
rebuilt from the plan record and the journal (no before/after cluster reads, then)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops.errors import BadInput
from etcdops.runs import events as read_events
from etcdops.runs import run_status


@dataclass(frozen=True)
class RunFiles:
    report: dict[str, Any]
    plan: dict[str, Any] | None
    events: list[dict[str, Any]]
    rebuilt: bool  # no report.json: the report was rebuilt from the plan and the journal


def resolve_run(folder: Path, spec: str) -> Path:
    """The journal folder of run SPEC in FOLDER (.etcdops/runs/): an id, a unique prefix of one, or
    `latest` (the last one to run)."""
    runs = [p for p in folder.iterdir() if (p / "plan.json").is_file()] if folder.is_dir() else []
    if not runs:
        raise BadInput(f"no runs in {folder}")
    if spec == "latest":
        return max(runs, key=lambda p: (_last_change(p), p.name))
    if "/" in spec or not spec:
        raise BadInput(f"no run {spec!r} in {folder} (see `etcdops runs list`)")
    exact = [p for p in runs if p.name == spec]
    matches = exact or [p for p in runs if p.name.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(sorted(p.name for p in matches)[:5])
        raise BadInput(
            f"{spec!r} is the start of {len(matches)} runs "
            f"({names}{', ...' if len(matches) > 5 else ''});"
            " give more of the id"
        )
    raise BadInput(f"no run {spec!r} in {folder} (see `etcdops runs list`)")


def _last_change(run_dir: Path) -> float:
    journal = run_dir / "events.jsonl"
    return (journal if journal.is_file() else run_dir / "plan.json").stat().st_mtime


def load_run(run_dir: Path) -> RunFiles:
    plan = _json(run_dir / "plan.json")
    events = read_events(run_dir)
    report = _json(run_dir / "report.json")
    if report is not None:
        return RunFiles(report, plan, events, False)
    run_id = str((plan or {}).get("run_id") or run_dir.name)
    return RunFiles(
        rebuild_report(run_id, plan or {}, events, run_status(run_dir)), plan, events, True
    )


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def rebuild_report(
    run_id: str, plan: dict[str, Any], events: list[dict[str, Any]], status: str
) -> dict[str, Any]:
    """A report in report.json's layout from what the journal holds (a run that never wrote one)."""
    steps: dict[int, dict[str, Any]] = {
        int(s["index"]): {
            "index": int(s["index"]),
            "name": s.get("name", ""),
            "status": "pending",
            "elapsed": 0.0,
            "hosts": [],
            "predicted": s.get("predicted"),
        }
        for s in plan.get("steps", [])
    }
    error = None
    for ev in events:
        step = steps.get(int(ev["step"])) if isinstance(ev.get("step"), int) else None
        kind = ev.get("event")
        if step is None:
            continue
        if kind == "step_started":
            step["status"] = "failed"  # until it finishes: the journal may end inside it
        elif kind == "step_finished":
            step.update(status=ev.get("status", "?"), elapsed=float(ev.get("elapsed") or 0.0))
        elif kind == "step_skipped":
            step["status"] = "done before" if "resumed" in str(ev.get("reason", "")) else "skipped"
        elif kind == "host_finished":
            step["hosts"].append(
                {
                    "host": ev.get("host"),
                    "status": ev.get("status", "?"),
                    "elapsed": float(ev.get("elapsed") or 0.0),
                    "detail": "",
                    "report": ev.get("report") or [],
                }
            )
        elif kind == "step_failed":
            step["status"], error = "failed", ev.get("error")
    times = [str(ev["time"]) for ev in events if ev.get("time")]
    return {
        "schema": "etcdops-report/1",
        "run_id": run_id,
        "runbook": plan.get("runbook", "?"),
        "inventory": plan.get("inventory", "?"),
        "params": plan.get("params") or {},
        "status": status,
        "exit_code": None,
        "started": times[0] if times else plan.get("created"),
        "finished": times[-1] if times else None,
        "error": error
        or (
            "the journal ends without the run's end: the runner stopped (killed, or the control "
            "node went down); `etcdops run --resume " + run_id + "` continues it"
            if status == "interrupted"
            else None
        ),
        "before": {**(plan.get("cluster") or {}), "endpoints": []},
        "after": None,
        "leader_changes": [
            {"time": ev["time"], "leader": ev.get("leader")}
            for ev in events
            if ev.get("event") == "leader" and ev.get("time")
        ],
        "steps": [steps[i] for i in sorted(steps)],
    }
