"""Finding a run's journal (an id, a unique prefix, `latest`) and the report of a run that never
wrote one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from etcdops.errors import BadInput
from etcdops.htmlreport.source import load_run, resolve_run

RUNS = Path(__file__).resolve().parents[2] / "fixtures" / "runs"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """.etcdops/runs/ with three journals, the last one changed last"""
    runs = tmp_path / ".etcdops" / "runs"
    for n, (name, run_id) in enumerate(
        (
            ("compact-defrag", "20261207T043019Z-c91765"),
            ("restore", "20261207T043030Z-d27043"),
            ("restore-failed", "20261207T043815Z-cbd045"),
        )
    ):
        shutil.copytree(RUNS / name, runs / run_id)
        os.utime(runs / run_id / "events.jsonl", (1000 + n, 1000 + n))
    return runs


def test_latest_is_the_run_whose_journal_changed_last(root: Path) -> None:
    assert resolve_run(root, "latest").name == "20261207T043815Z-cbd045"
    # a reviewed plan saved long ago and run only now is the latest, whatever its id says
    os.utime(root / "20261207T043019Z-c91765/events.jsonl", (5000, 5000))
    assert resolve_run(root, "latest").name == "20261207T043019Z-c91765"


def test_an_id_or_a_unique_start_of_one(root: Path) -> None:
    assert resolve_run(root, "20261207T043030Z-d27043").name == "20261207T043030Z-d27043"
    assert resolve_run(root, "20261207T04381").name == "20261207T043815Z-cbd045"


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("20261207T0430", "is the start of 2 runs"),
        ("nope", "no run 'nope'"),
        ("../x", "no run"),
        ("", "no run"),
    ],
)
def test_ambiguous_or_unknown_ids_are_bad_input(root: Path, spec: str, said: str) -> None:
    with pytest.raises(BadInput, match=said):
        resolve_run(root, spec)


def test_no_runs_at_all(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no runs in"):
        resolve_run(tmp_path / ".etcdops" / "runs", "latest")


def test_a_killed_run_gets_a_report_from_its_plan_and_journal() -> None:
    files = load_run(RUNS / "restore-killed")
    report = files.report
    assert (
        files.rebuilt
        and report["run_id"] == "20261207T043902Z-1a1f31"
        and report["runbook"] == "restore"
    )
    assert (
        report["status"] == "interrupted" and "--resume 20261207T043902Z-1a1f31" in report["error"]
    )
    statuses = [s["status"] for s in report["steps"]]
    assert statuses[:3] == ["changed", "changed", "failed"] and set(statuses[3:]) == {"pending"}
    assert [h["host"] for h in report["steps"][0]["hosts"]] and report["steps"][0]["predicted"][
        "bytes"
    ] > 0
    assert report["leader_changes"][0]["leader"] == "node2"


@pytest.mark.parametrize("name", ["compact-defrag", "restore", "restore-failed", "restore-resumed"])
def test_the_fixtures_are_reports_as_documented(name: str) -> None:
    import json

    import jsonschema

    schema = json.loads((RUNS.parents[2] / "docs" / "report.schema.json").read_text())
    jsonschema.validate(load_run(RUNS / name).report, schema)
