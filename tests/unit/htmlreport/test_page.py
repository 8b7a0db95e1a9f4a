"""The HTML page: made from journals of real lab runs (tests/fixtures/runs/), self-contained (no
script,
nothing fetched), every value escaped, and never a reason for `run --html` to fail a run."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import etcdops.htmlreport as htmlreport
from etcdops.htmlreport import render_html, render_run, write_run_html
from etcdops.htmlreport.source import load_run

RUNS = Path(__file__).resolve().parents[2] / "fixtures" / "runs"
FIXTURES = ("compact-defrag", "restore", "restore-failed", "restore-resumed", "restore-killed")
# what the page may contain: text, tables, inline SVG; nothing that runs or fetches
ALLOWED = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "header",
    "footer",
    "section",
    "h1",
    "h2",
    "h3",
    "p",
    "span",
    "div",
    "b",
    "i",
    "code",
    "pre",
    "table",
    "colgroup",
    "col",
    "tr",
    "th",
    "td",
    "ul",
    "li",
    "details",
    "summary",
    "svg",
    "g",
    "path",
    "defs",
    "clippath",
    "use",
    "rect",
    "polyline",
    "line",
    "text",
    "tspan",
    "pattern",
}  # pattern: the hatching of failed bars
LINKING = {
    "src",
    "href",
    "xlink:href",
    "action",
    "formaction",
    "poster",
    "data",
    "srcset",
    "background",
}


class Parsed(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_self_contained(page: str) -> Parsed:
    parsed = Parsed(page)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED, {tag for tag, _ in parsed.tags} - ALLOWED
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (
                tag,
                name,
                value,
            )  # no event handler, whatever the value
            if name in LINKING:
                assert (value or "").startswith("#"), (tag, name, value)  # only the SVG's own ids
    assert all(ref.startswith("#") for ref in re.findall(r"url\(\s*['\"]?([^)'\"]*)", page))
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(https?:)?//", page, re.I)
    metas = [dict(a) for tag, a in parsed.tags if tag == "meta"]
    csp = [m for m in metas if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    return parsed


@functools.cache
def _page(name: str) -> str:
    files = load_run(RUNS / name)
    return render_html(files.report, files.plan, files.events)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_real_run_makes_a_self_contained_page(name: str) -> None:
    page = _page(name)
    assert_self_contained(page)
    assert page.count('<div class="chart gantt">') >= 1 and "Timeline: steps per host" in page


def test_a_restore_page_says_when_clients_had_no_etcd_and_how() -> None:
    page = _page("restore")
    assert "at most 4.4 s" in page and "certainly 3.0 s" in page
    assert "04:30:33.400–04:30:34.600 (etcd stopped on node3" in page
    assert "How this is derived" in page
    assert page.count("<svg ") == 3  # the timeline, db sizes, predicted vs actual
    assert "node1 → none → node1" in page  # the leader card, cut by the outage
    assert "What went wrong" not in page


def test_a_compact_defrag_page_has_sizes_before_and_after() -> None:
    page = _page("compact-defrag")
    assert "No step of this run stopped etcd" in page
    assert "176.4 MB → 29.4 MB in 0.62 s" in page  # node2's defragmentation, as it reported it
    assert "Database size per member" in page and "Predicted and actual, per long step" in page


def test_a_failed_page_has_the_error_and_the_advice() -> None:
    page = _page("restore-failed")
    assert "What went wrong" in page and "Permission denied" in page
    assert "What to do" in page and "Members that did stop can be started again" in page
    assert "still down at the end of the run" in page  # node1 was stopped and not started again


def test_a_killed_run_page_is_rebuilt_from_the_journal() -> None:
    files = load_run(RUNS / "restore-killed")
    assert files.rebuilt and files.report["status"] == "interrupted"
    page = render_html(files.report, files.plan, files.events)
    assert (
        "still no quorum when the journal ends" in page
        and "etcdops run --resume 20261207T043902Z" in page
    )


def test_a_resumed_run_shows_each_attempt_and_the_earlier_failure() -> None:
    page = _page("restore-resumed")
    assert (
        "Attempt 1," in page
        and "Attempt 2 (resumed)," in page
        and page.count('class="chart gantt"') == 2
    )
    assert "Failures of earlier attempts" in page and "What went wrong" not in page


def test_a_page_without_a_journal_says_there_is_no_timeline() -> None:
    report = load_run(RUNS / "restore").report
    page = render_html(report, None, [])
    assert_self_contained(page)
    assert "no timeline" in page and "gantt" not in page and "No plan record" in page


# ----- hostile values -------------------------------------------------------------------
EVIL = "<script>alert(1)</script>"
MATH = "$x^{$"  # not valid math text: a chart that parsed it would fail


def _hostile() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    t = "2026-01-01T00:00:0{}.000+00:00"
    report: dict[str, Any] = {
        "run_id": 'r"><img src=x onerror=alert(1)>',
        "runbook": EVIL,
        "inventory": "inv&<b>",
        "status": "failed",
        "exit_code": 1,
        "params": {EVIL: MATH},
        "started": t.format(0),
        "finished": t.format(5),
        "error": "boom </pre><script>x()</script>\n\nadvice <a "
        "href='http://evil.example/'>here</a> -->",
        "before": {
            "endpoints": [{"host": EVIL, "db_size": 10 << 20}, {"host": MATH, "db_size": 5 << 20}]
        },
        "after": {"endpoints": [{"host": EVIL, "db_size": 4 << 20}]},
        "leader_changes": [{"time": t.format(0), "leader": EVIL}],
        "steps": [
            {
                "index": 1,
                "name": EVIL,
                "status": "failed",
                "elapsed": 2.0,
                "predicted": {"seconds": 1.0, "bytes": 1 << 20, "rate": 1 << 20, "samples": 0},
                "hosts": [
                    {
                        "host": EVIL,
                        "status": "changed",
                        "elapsed": 1.0,
                        "detail": EVIL,
                        "report": [
                            {
                                "member": MATH,
                                "db_before": 5 << 20,
                                "db_after": 1 << 20,
                                "seconds": 0.1,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    plan: dict[str, Any] = {
        "cluster": {
            "cluster_id": EVIL,
            "leader": EVIL,
            "members": [{"host": EVIL, "role": "voter"}, {"host": MATH, "role": "voter"}],
        },
        "checks": [{"message": EVIL, "ok": False, "detail": EVIL}],
        "warnings": [EVIL],
        "summary": EVIL,
        "impact": {"clients": EVIL, EVIL: [EVIL, {"x": "y\n" + EVIL}]},
        "disk": [
            {
                "host": EVIL,
                "step": 1,
                "what": EVIL,
                "path": EVIL,
                "bytes": 1,
                "free_before": 2,
                "free_after": 1,
            }
        ],
        "steps": [
            {
                "index": 1,
                "name": EVIL,
                "kind": "etcd_service",
                "quorum": {"change": "remove", "host": EVIL, "before": {}, "after": {}},
                "actions": [{"host": EVIL, "describe": ["stop etcd on " + EVIL]}],
            }
        ],
    }
    events: list[dict[str, Any]] = [
        {"time": t.format(0), "event": "leader", "leader": EVIL},
        {"time": t.format(0), "event": "run_started"},
        {"time": t.format(0), "event": "host_started", "step": 1, "host": EVIL},
        {"time": t.format(1), "event": "host_started", "step": 1, "host": MATH},
        {
            "time": t.format(2),
            "event": "host_finished",
            "step": 1,
            "host": EVIL,
            "status": "changed",
        },
        {
            "time": t.format(3),
            "event": "host_failed",
            "step": 1,
            "host": MATH,
            "error": EVIL + " -->",
        },
        {"time": t.format(3), "event": "step_failed", "step": 1, "error": EVIL},
    ]
    return report, plan, events


def test_hostile_values_are_text_everywhere() -> None:
    page = render_html(*_hostile())
    parsed = assert_self_contained(page)
    assert (
        "<script" not in page.lower() and "<img" not in page.lower() and "<a " not in page.lower()
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert any(EVIL in t for t in parsed.text) and any(
        MATH in t for t in parsed.text
    )  # shown, as text
    assert "--><" not in page.replace("-->\n<", "")  # nothing closes matplotlib's comments early


def test_the_page_needs_no_matplotlib_at_start_up() -> None:
    code = (
        "import etcdops.cli.main, etcdops.cli.run, etcdops.htmlreport, etcdops.htmlreport.page\n"
        "import sys; print(' '.join(sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert not {m for m in out.stdout.split() if m.split(".")[0] == "matplotlib"}


# ----- run --html never fails a run ----------------------------------------------------------
def test_an_unwritable_destination_puts_the_page_in_the_journal(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for f in ("plan.json", "events.jsonl"):
        (run_dir / f).write_text((RUNS / "restore" / f).read_text())
    report = json.loads((RUNS / "restore" / "report.json").read_text())
    written = write_run_html(tmp_path / "no-such-dir" / "r.html", report, run_dir)
    assert written.path == run_dir / "report.html" and written.path.is_file()
    assert written.problem and "no-such-dir" in written.problem
    assert not list(tmp_path.glob("no-such-dir*")) and not list(run_dir.glob(".*.tmp"))


def test_a_page_that_cannot_be_made_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: Any, **_k: Any) -> str:
        raise RuntimeError("chart exploded")

    monkeypatch.setattr(htmlreport, "render_run", broken)
    written = write_run_html(tmp_path / "r.html", {}, tmp_path)
    assert written.path is None and "chart exploded" in (written.problem or "")
    assert not (tmp_path / "r.html").exists()


def test_the_page_of_a_journal_folder_uses_the_report_given(tmp_path: Path) -> None:
    report = json.loads((RUNS / "restore" / "report.json").read_text())
    report["status"] = "stale"
    assert '<span class="badge warn">stale</span>' in render_run(RUNS / "restore", report)
