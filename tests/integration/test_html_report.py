"""`run ... --html` on the real lab: the page is written at the end of the run, and a page that
cannot be written where asked goes into the run's journal instead, the run's outcome untouched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import LabEnv, newest_run, runs, start, wait_for_event

pytestmark = pytest.mark.lab


SLEEPY = """name: sleepy
description: a status with a pause on one member, long enough to remove a directory meanwhile
steps:
  - name: Sleep
    target: "host:node1"
    timeout: 60
    command:
      run: sleep 3
"""


def test_run_html_falls_back_to_the_journal_and_keeps_the_run_successful(
    lab: LabEnv, tmp_path: Path
) -> None:
    lab.wait_healthy()
    # a path that cannot be written is refused before anything is touched (issue 28.10)
    missing = tmp_path / "no-such-dir" / "report.html"
    before = runs(lab)
    refused = lab.etcdops("run", "status", "-i", "lab", "--yes", "--html", str(missing))
    assert refused.returncode == 2 and "nothing was touched" in refused.stderr, refused.stderr
    assert runs(lab) == before
    # one whose directory goes away while the run runs: the run stands, the page is in the journal
    gone = tmp_path / "gone"
    gone.mkdir()
    asked = gone / "report.html"
    folder = lab.root / "my-runbooks"
    folder.mkdir(exist_ok=True)
    (folder / "sleepy.yml").write_text(SLEEPY)
    proc = start(lab, "sleepy", "--runbooks", str(folder), "--html", str(asked))
    run_dir = newest_run(lab, before)
    wait_for_event(run_dir, "step_started", 1)
    gone.rmdir()
    stdout, stderr = proc.communicate(timeout=120)
    out = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert out.returncode == 0, out.stderr
    run_id, journal_page = run_dir.name, run_dir / "report.html"
    assert (
        f"--html: could not write {asked}" in out.stderr
        and f"HTML report: {journal_page}" in out.stdout
    ), out.stdout + out.stderr
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
