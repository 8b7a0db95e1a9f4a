"""`run ... --html` on the real lab: the page is written at the end of the run, and a page that
cannot be written where asked goes into the run's journal instead, the run's outcome untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import LabEnv, newest_run, runs

pytestmark = pytest.mark.lab


def test_run_html_falls_back_to_the_journal_and_keeps_the_run_successful(
    lab: LabEnv, tmp_path: Path
) -> None:
    lab.wait_healthy()
    asked = tmp_path / "no-such-dir" / "report.html"
    before = runs(lab)
    out = lab.etcdops("run", "status", "-i", "lab", "--yes", "--html", str(asked))
    assert out.returncode == 0, out.stderr
    run_dir = newest_run(lab, before)
    run_id, journal_page = run_dir.name, run_dir / "report.html"
    assert (
        f"--html: could not write {asked}" in out.stderr
        and f"HTML report: {journal_page}" in out.stdout
    )
    page = journal_page.read_text()
    assert "Timeline: steps per host" in page and "No step of this run stopped etcd" in page
    # the cluster was read again at the end for the page: sizes before and after
    assert "Database size per member" in page
    again = lab.etcdops(
        "runs", "report", run_id[:17], "--html", str(tmp_path / "again.html"), check=True
    )
    assert run_id in again.stdout and (tmp_path / "again.html").read_text().startswith(
        "<!DOCTYPE html>"
    )
