"""The run report (--report FILE.json) and its JUnit form (--junit FILE.xml).

REPORT_SCHEMA names the JSON layout documented in the README; the JUnit file has one
testcase per step, so CI dashboards show maintenance runs like test runs.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from etcdops.execute.runner import RunResult, summarize
from etcdops.facts.model import ClusterFacts
from etcdops.plan import Plan
from etcdops.serialize import status_dict

REPORT_SCHEMA = "etcdops-report/1"


def build_report(
    plan: Plan,
    result: RunResult,
    before: ClusterFacts,
    after: ClusterFacts | None,
    started: str,
    finished: str,
) -> dict[str, Any]:
    run = summarize(result)
    ran = {s["index"] for s in run["steps"]}
    # never reached: the run stopped before
    run["steps"] += [
        {"index": s.index, "name": s.name, "status": "pending", "elapsed": 0.0, "hosts": []}
        for s in plan.steps
        if s.index not in ran
    ]
    predicted = {s.index: s.predicted.as_dict() for s in plan.steps if s.predicted}
    return {
        "schema": REPORT_SCHEMA,
        "run_id": result.run_id,
        "runbook": plan.runbook,
        "inventory": plan.inventory,
        "params": dict(plan.params),
        "status": result.status,
        "exit_code": result.exit_code,
        "error": result.error,
        "started": started,
        "finished": finished,
        "before": status_dict(before),
        "after": status_dict(after) if after is not None else None,
        "leader_changes": [{"time": t, "leader": leader} for t, leader in result.leaders],
        # predicted (durations.py; only for the steps with work to size) next to the actual elapsed
        "steps": [
            {
                **s,
                "predicted": predicted.get(s["index"]),
                "hosts": [
                    {k: h[k] for k in ("host", "status", "elapsed", "detail", "report")}
                    for h in s["hosts"]
                ],
            }
            for s in run["steps"]
        ],
    }


def clients_without_etcd(plan: Plan, events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How long clients had no etcd, measured from the journal (the first start of the step marked
    `clients: stop`, in whichever attempt of the run, to the last finish of the one marked
    `back`), beside what the plan expected. None when the runbook marks no such window."""
    predicted = plan.clients_without_etcd
    if predicted is None:
        return None
    stop = next(s.index for s in plan.steps if s.clients == "stop")
    back = next(s.index for s in plan.steps if s.clients == "back")
    began = next(
        (e["time"] for e in events if e.get("event") == "step_started" and e.get("step") == stop),
        None,
    )
    ended = [
        e["time"] for e in events if e.get("event") == "step_finished" and e.get("step") == back
    ]
    measured = None
    if began is not None and ended:
        measured = round(
            (
                dt.datetime.fromisoformat(ended[-1]) - dt.datetime.fromisoformat(began)
            ).total_seconds(),
            3,
        )
    return {
        "predicted_seconds": round(predicted, 1),
        "measured_seconds": measured,
        "from": began,
        "to": ended[-1] if ended else None,
    }


def junit_xml(report: dict[str, Any]) -> str:
    steps = report["steps"]
    suite = ET.Element(
        "testsuite",
        {
            "name": f"etcdops {report['runbook']} on {report['inventory']}",
            "tests": str(len(steps)),
            "failures": str(sum(1 for s in steps if s["status"] == "failed")),
            "skipped": str(sum(1 for s in steps if s["status"] in ("skipped", "pending"))),
            "time": f"{sum(s['elapsed'] for s in steps):.3f}",
            "timestamp": report["started"],
        },
    )
    ET.SubElement(
        ET.SubElement(suite, "properties"),
        "property",
        {"name": "run_id", "value": report["run_id"]},
    )
    for s in steps:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"etcdops.{report['runbook']}",
                "name": f"{s['index']:02d} {s['name']}",
                "time": f"{s['elapsed']:.3f}",
            },
        )
        if s["status"] == "failed":
            failure = ET.SubElement(
                case, "failure", {"message": (report["error"] or "failed").splitlines()[0]}
            )
            failure.text = report["error"] or ""
        elif s["status"] in ("skipped", "pending"):
            ET.SubElement(
                case, "skipped", {"message": "not run" if s["status"] == "pending" else "skipped"}
            )
        out = "\n".join(
            f"{h['host']}: {h['status']} ({h['elapsed']:.1f}s) {h['detail']}".rstrip()
            for h in s["hosts"]
        )
        if out:
            ET.SubElement(case, "system-out").text = out
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(_wrap(suite), encoding="unicode")
        + "\n"
    )


def _wrap(suite: ET.Element) -> ET.Element:
    root = ET.Element("testsuites")
    root.append(suite)
    return root
