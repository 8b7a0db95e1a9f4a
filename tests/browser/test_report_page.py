"""The HTML run report in a real browser (Debian's chromium, headless, offline): it loads with no
console message at all (the page has no script; its CSP refuses anything fetched, and says so in
the console), and its screenshot shows the timeline. The checks are shown to fail on pages that
lack the chart or try to fetch something."""

from __future__ import annotations

from pathlib import Path

from etcdops.htmlreport import charts, render_html
from etcdops.htmlreport.source import load_run
from etcdops.htmlreport.timeline import attempts
from tests.browser.chromium import HEIGHT, WIDTH, colour_area, ink, screenshot, timeline_missing

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def _restore_page(
    tmp_path: Path, with_journal: bool = True, extra: str = ""
) -> tuple[Path, set[str]]:
    files = load_run(RUNS / "restore")
    page = render_html(files.report, files.plan, files.events if with_journal else [])
    out = tmp_path / "report.html"
    out.write_text(page.replace("</body>", extra + "</body>"))
    steps = {s.step for a in attempts(files.events) for s in a.spans if s.status != "skipped"}
    return out, {charts.step_colour(i) for i in steps}


def test_the_report_loads_clean_and_its_screenshot_shows_the_timeline(tmp_path: Path) -> None:
    page, bars = _restore_page(tmp_path)
    shot = screenshot(page, tmp_path / "report.png", tmp_path)
    assert shot.console == [], shot.console
    from PIL import Image

    with Image.open(shot.png) as img:
        assert img.size == (WIDTH, HEIGHT)
    assert ink(shot.png) > 0.02  # not blank
    assert timeline_missing(shot.png, bars) is None
    # the window without etcd is drawn behind the bars, inside the timeline
    count, band = colour_area(shot.png, {charts.NO_ETCD_AT_LEAST})
    _n, timeline = colour_area(shot.png, bars)
    assert count > 2000 and band and timeline and timeline[0] < band[0] < band[2] < timeline[2]


def test_the_checks_fail_on_a_page_without_the_timeline(tmp_path: Path) -> None:
    page, bars = _restore_page(
        tmp_path, with_journal=False
    )  # the same report, no journal: no timeline
    shot = screenshot(page, tmp_path / "no-timeline.png", tmp_path)
    assert shot.console == [] and ink(shot.png) > 0.02  # a real page, with its other charts
    assert timeline_missing(shot.png, bars) is not None
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    assert ink(screenshot(blank, tmp_path / "blank.png", tmp_path).png) < 0.001


def test_the_console_check_sees_what_the_page_would_fetch_or_run(tmp_path: Path) -> None:
    page, _bars = _restore_page(
        tmp_path,
        extra="<img src=\"https://cdn.example.com/x.png\"><script>console.log('ran')</script>",
    )
    shot = screenshot(page, tmp_path / "tampered.png", tmp_path)
    assert any("cdn.example.com" in line for line in shot.console), (
        shot.console
    )  # refused by the page's CSP
    assert any("inline script" in line for line in shot.console), shot.console
    assert not any(
        "ran" in line.split("CONSOLE")[-1][:12] for line in shot.console
    )  # and it did not run
