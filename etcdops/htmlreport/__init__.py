"""The run report as one self-contained HTML page (`run ... --html FILE`, `runs report RUN_ID
--html FILE`).

    render_html(report, plan, events) -> str     the page, from report.json's dict,
    plan.json's and the journal
    render_run(run_dir) -> str                    the same from a journal folder
    (.etcdops/runs/RUN_ID/)
    write_run_html(dest, report, run_dir)         for `run --html`: never raises; falls back
    to another place

timeline.py derives what happened when (pure); charts.py draws it with matplotlib (imported only
here, when a page is made); page.py writes the HTML; source.py finds and reads a run's files.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops.errors import BadInput


def render_html(
    report: dict[str, Any],
    plan: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> str:
    try:
        import matplotlib  # noqa: F401 - only to say clearly what is missing
    except ImportError:
        raise BadInput("the HTML report needs matplotlib (pip install matplotlib)") from None
    # lazy: the page and its charts import matplotlib (~0.7 s), only when a page is asked for
    from etcdops.htmlreport.page import render

    return render(report, plan, events)


def render_run(run_dir: Path, report: dict[str, Any] | None = None) -> str:
    """The page of a journaled run; `report` (the run's own, just made) wins over report.json."""
    # lazy: as render_html
    from etcdops.htmlreport.source import load_run

    files = load_run(run_dir)
    return render_html(report if report is not None else files.report, files.plan, files.events)


def write_file(dest: Path, text: str) -> None:
    """Whole or not at all: a partial page is never left under dest's name."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Written:
    path: Path | None  # where the page is (None: it could not be made)
    problem: str | None  # why it is not at the place asked for


def write_run_html(dest: Path, report: dict[str, Any], run_dir: Path) -> Written:
    """For `run --html`: a finished maintenance never fails because of its page. If dest cannot be
    written, the page goes into the run's journal folder, else the temp dir; if it cannot be made
    at all, the problem is returned (`etcdops runs report RUN_ID --html FILE` makes it later)."""
    try:
        page = render_run(run_dir, report)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the run's outcome stands
        return Written(None, f"could not make the page: {exc}")
    problems = []
    fallback = Path(tempfile.gettempdir()) / f"etcdops-{run_dir.name}.html"
    for target in (dest, run_dir / "report.html", fallback):
        try:
            write_file(target, page)
        except OSError as exc:
            problems.append(f"could not write {target}: {exc.strerror or exc}")
            continue
        return Written(target, "; ".join(problems) or None)
    return Written(None, "; ".join(problems))
