"""`etcdops runs list | show | report`: the runs journaled in the state directory (paths.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from etcdops import paths, units
from etcdops.cli.common import ListOutput, boundary, err
from etcdops.errors import BadInput

app = typer.Typer(
    no_args_is_help=True, help="Past runs and their journals (runs/ in the state dir)."
)

RunSpec = Annotated[str, typer.Argument(help="a run id, a unique start of one, or `latest`")]
OutputOpt = Annotated[ListOutput, typer.Option("--output", "-o")]
COLUMNS = ("ID", "RUNBOOK", "INVENTORY", "STARTED (UTC)", "DURATION", "OUTCOME", "STEPS")


@app.command("list")
@boundary
def list_(output: OutputOpt = ListOutput.text) -> None:
    """Runs journaled in the state directory, oldest first: id, runbook, inventory, start,
    duration, outcome."""
    from etcdops.runs import list_runs

    rows = list_runs()
    if output == ListOutput.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no runs yet in {paths.runs_dir()}")
        legacy = paths.legacy_state_dir()
        if legacy is not None:
            err(
                f"note: {legacy}/runs holds runs of an older etcdops (it kept them in the current "
                f"directory); see them with ETCDOPS_HOME={legacy.parent} etcdops runs list"
            )
        return
    typer.echo(table([COLUMNS, *(_cells(r) for r in rows)]))


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    started = str(r["started"] or "-").replace("T", " ")[:19]
    duration = units.seconds(r["duration"]) if r["duration"] is not None else "-"
    outcome = str(r["outcome"]) + (f" ({r['attempts']} attempts)" if r["attempts"] > 1 else "")
    return (r["id"], r["runbook"], r["inventory"], started, duration, outcome, r["steps"])


def table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@app.command("show")
@boundary
def show(run_id: RunSpec, output: OutputOpt = ListOutput.text) -> None:
    """One run: a summary (outcome, times, params, error), its steps, then its journal's events."""
    from etcdops.htmlreport.source import load_run, resolve_run
    from etcdops.runs import resumable, run_summary

    run_dir = resolve_run(paths.runs_dir(), run_id)
    summary = run_summary(run_dir)
    files = load_run(run_dir)
    steps = files.report.get("steps") or []
    if output == ListOutput.json:
        doc = {**summary, "error": files.report.get("error"), "steps": steps}
        typer.echo(json.dumps({**doc, "events": files.events}, indent=2, default=str))
        return
    typer.echo("\n".join(_summary_lines(summary, files.report.get("error"))))
    typer.echo("\nSTEPS")
    typer.echo(table([("#", "STEP", "STATUS", "TIME", "HOSTS"), *(_step(s) for s in steps)]))
    typer.echo(f"\nEVENTS ({len(files.events)}, from {run_dir / 'events.jsonl'})")
    for e in files.events:
        typer.echo("  " + event_line(e))
    if (
        summary["outcome"] not in ("planned", "successful")
        and resumable(run_dir, files.plan or {}) is None
    ):
        typer.echo(f"\ncontinue with: etcdops run --resume {run_dir.name}")


def _summary_lines(s: dict[str, Any], error: Any) -> list[str]:
    duration = units.seconds(s["duration"]) if s["duration"] is not None else "-"
    lines = [
        f"run {s['id']}: {s['runbook']} on {s['inventory']}: {str(s['outcome']).upper()}",
        f"  started   {s['started'] or '-'}",
        f"  finished  {s['finished'] or '-'} ({duration})",
        f"  steps     {s['steps']} finished"
        + (f", {s['attempts']} attempts (resumed)" if s["attempts"] > 1 else ""),
        "  params    " + (", ".join(f"{k}={v}" for k, v in s["params"].items()) or "none"),
    ]
    if error:
        lines.append("  error     " + str(error).replace("\n", "\n            "))
    return lines


def _step(s: dict[str, Any]) -> tuple[str, ...]:
    hosts = ", ".join(f"{h.get('host')} {h.get('status')}" for h in s.get("hosts") or [])
    elapsed = s.get("elapsed")
    return (
        str(s.get("index", "")),
        str(s.get("name", ""))[:70],
        str(s.get("status", "")),
        units.seconds(float(elapsed)) if elapsed else "-",
        hosts or "-",
    )


def event_line(e: dict[str, Any]) -> str:
    """One journal event as a line: time, step, host, event, then its other fields."""
    time = str(e.get("time", "?"))[11:23]
    step = f"step {e['step']}" if "step" in e else ""
    rest = {k: v for k, v in e.items() if k not in ("time", "event", "step", "host")}
    detail = " ".join(f"{k}={_short(v)}" for k, v in rest.items())
    return f"{time}  {step:<8} {str(e.get('host') or ''):<8} {e.get('event', '?'):<14} {detail}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


@app.command("report")
@boundary
def report(
    run_id: RunSpec,
    html: Annotated[Path, typer.Option(help="write the page here")],
) -> None:
    """One journaled run as a self-contained HTML page: timeline, outage window, sizes, leaders,
    failures."""
    from etcdops.htmlreport import render_run, write_file
    from etcdops.htmlreport.source import resolve_run

    run_dir = resolve_run(paths.runs_dir(), run_id)
    page = render_run(run_dir)
    try:
        write_file(html, page)
    except OSError as exc:
        raise BadInput(f"cannot write {html}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {html} (run {run_dir.name})")
