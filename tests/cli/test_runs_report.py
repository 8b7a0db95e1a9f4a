"""`etcdops runs report RUN_ID --html FILE` and `run --html` as the CLI offers them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etcdops.cli.main import app

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path))
    shutil.copytree(RUNS / "restore", tmp_path / ".etcdops" / "runs" / "20261207T043030Z-d27043")
    shutil.copytree(
        RUNS / "restore-killed", tmp_path / ".etcdops" / "runs" / "20261207T043902Z-1a1f31"
    )
    return tmp_path


def test_runs_report_writes_the_page_of_a_run_by_prefix_or_latest(home: Path) -> None:
    out = runner.invoke(app, ["runs", "report", "20261207T0430", "--html", str(home / "a.html")])
    assert out.exit_code == 0, out.output
    assert "wrote" in out.stdout and "20261207T043030Z-d27043" in out.stdout
    assert "Timeline: steps per host" in (home / "a.html").read_text()
    out = runner.invoke(app, ["runs", "report", "latest", "--html", str(home / "b.html")])
    assert out.exit_code == 0 and (home / "b.html").is_file()


def test_runs_report_refuses_an_ambiguous_id_and_an_unwritable_file(home: Path) -> None:
    out = runner.invoke(app, ["runs", "report", "2026", "--html", str(home / "a.html")])
    assert out.exit_code == 2 and "is the start of 2 runs" in out.stderr
    out = runner.invoke(
        app, ["runs", "report", "latest", "--html", str(home / "missing" / "a.html")]
    )
    assert out.exit_code == 2 and "cannot write" in out.stderr and not (home / "missing").exists()


def test_run_offers_html() -> None:
    out = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "--html" in out.stdout
