"""Issue 30, daily ergonomics and first contact, as the command line offers them: --version,
completion, `runs list` as a table (and JSON) from any directory, `runs show latest|PREFIX` with a
summary first, runbooks as JSON, one error style (no rich boxes), `status -o markdown` refused,
`status` with nothing read exits 1 and says why, a bad param blamed on the param, "n" exits 3,
`lab --help` names the lab's own net."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etcdops.cli.main import app

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
runner = CliRunner()
BOX = ("╭", "│", "╰")


@pytest.fixture(autouse=True)
def home(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETCDOPS_HOME", str(repo))


def journaled(state: Path) -> list[str]:
    """The fixture journals (real runs) in a runs folder, under their own ids."""
    ids = []
    for name in (
        "compact-defrag",
        "restore",
        "restore-resumed",
        "restore-failed",
        "restore-killed",
    ):
        run_id = json.loads((RUNS / name / "plan.json").read_text())["run_id"]
        shutil.copytree(RUNS / name, state / "runs" / run_id)
        ids.append(run_id)
    return ids


def _etcdops(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdops", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_version_and_typers_completion() -> None:
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.stdout.startswith("etcdops ")
    completion = runner.invoke(app, ["--show-completion", "bash"])
    assert completion.exit_code == 0 and "_ETCDOPS_COMPLETE" in completion.stdout.upper()
    words = _etcdops(COMP_WORDS="etcdops ru", COMP_CWORD="1", _ETCDOPS_COMPLETE="complete_bash")
    assert words.returncode == 0 and words.stdout.split() == ["run", "runbooks", "runs"]


def test_runs_list_is_a_table_and_json_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETCDOPS_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    ids = journaled(tmp_path / "state" / "etcdops")
    (tmp_path / "somewhere" / "else").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "somewhere" / "else")
    out = runner.invoke(app, ["runs", "list"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "RUNBOOK",
        "INVENTORY",
        "STARTED",
        "(UTC)",
        "DURATION",
        "OUTCOME",
        "STEPS",
    ]
    resumed = next(line for line in lines if line.startswith(ids[2]))
    assert "restore" in resumed and "2026-12-07 04:37:35" in resumed and "14s" in resumed
    assert "successful (2 attempts)" in resumed and "12/12" in resumed
    assert "interrupted" in next(line for line in lines if line.startswith(ids[4]))
    rows = json.loads(runner.invoke(app, ["runs", "list", "-o", "json"]).stdout)
    assert [r["id"] for r in rows] == sorted(ids)
    failed = next(r for r in rows if r["id"] == ids[3])
    assert failed["outcome"] == "failed" and failed["duration"] == pytest.approx(5.0, abs=0.5)
    assert set(failed) >= {"runbook", "inventory", "started", "finished", "duration", "attempts"}


def test_runs_show_latest_and_a_prefix_summary_first_events_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path))
    ids = journaled(tmp_path / ".etcdops")
    out = runner.invoke(app, ["runs", "show", ids[3][:15]])  # a unique start of the id
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert text.startswith(f"run {ids[3]}: restore on lab: FAILED\n")
    assert "  error     " in text and "STEPS" in text and "EVENTS (" in text
    assert text.index("STEPS") < text.index("EVENTS") and text.index("error") < text.index("STEPS")
    assert f"continue with: etcdops run --resume {ids[3]}" in text
    os.utime(tmp_path / ".etcdops" / "runs" / ids[0] / "events.jsonl")  # the newest journal
    latest = runner.invoke(app, ["runs", "show", "latest", "-o", "json"])
    doc = json.loads(latest.stdout)
    assert doc["id"] == ids[0] and doc["outcome"] == "successful" and doc["events"]
    ambiguous = runner.invoke(app, ["runs", "show", "2026"])
    assert ambiguous.exit_code == 2 and "give more of the id" in ambiguous.stderr


def test_runbooks_as_json() -> None:
    listed = json.loads(runner.invoke(app, ["runbooks", "list", "-o", "json"]).stdout)
    assert {"name": "restore"}.items() <= next(r for r in listed if r["name"] == "restore").items()
    shown = runner.invoke(app, ["runbooks", "show", "compact-defrag", "-o", "json"])
    data = json.loads(shown.stdout)
    assert data["name"] == "compact-defrag" and data["params"][0]["type"] == "defrag_rule"
    assert [s["kind"] for s in data["steps"]][:3] == ["etcd_latency", "etcd_compact", "etcd_defrag"]
    text = runner.invoke(app, ["runbooks", "show", "scale-out"]).stdout
    assert "{{" not in text and "Install etcd on <host>" in text


@pytest.mark.parametrize(
    "args, said",
    [
        (["status"], "error: etcdops status: missing option '--inventory' / '-i'"),
        (["status", "-i", "example-prod", "-o", "markdown"], "'markdown' is not one of"),
        (["no-such-command"], "error: etcdops: no such command 'no-such-command'"),
    ],
)
def test_usage_errors_are_error_lines_like_every_other(args: list[str], said: str) -> None:
    proc = _etcdops(*args)
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr and proc.stderr.startswith("error: ")
    assert not any(c in proc.stderr for c in BOX), proc.stderr


def test_a_bad_param_value_is_blamed_on_the_param() -> None:
    out = runner.invoke(
        app, ["plan", "compact-defrag", "-i", "example-prod", "-p", "rule=sometimes"]
    )
    assert out.exit_code == 2
    assert (
        "param rule: 'sometimes' is not a defrag rule: one of default, always, never" in out.stderr
    )
    assert "compact-defrag.yml" not in out.stderr


def test_status_that_reads_no_member_exits_1_and_says_why(tmp_path: Path) -> None:
    # every host's SSH port is closed: nothing can be read
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    etcd:\n      hosts:\n"
        + "".join(
            f"        n{i}: {{ansible_host: 127.0.9.{i}, ansible_port: 9,"
            f" etcd_peer_url: 'http://127.0.9.{i}:2380', etcd_client_url: 'http://127.0.9.{i}:2379'}}\n"
            for i in (1, 2)
        )
    )
    out = runner.invoke(app, ["status", "-i", str(tmp_path)])
    assert out.exit_code == 1
    assert out.stderr.startswith("error: no member's etcd could be read: n1: SSH failed")
    assert "; n2: SSH failed, its etcd was not read: cannot connect" in out.stderr
    assert "ALARMS: not read" in out.stdout and "quorum 0" not in out.stdout
    checked = runner.invoke(app, ["status", "-i", str(tmp_path), "--check"])
    assert checked.exit_code == 1 and "SSH failed" in checked.stderr


def test_answering_no_is_a_refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import typer

    from etcdops.cli import run as run_cli
    from etcdops.errors import ExitCode, Refused
    from tests.helpers import lab_inventory, plan_for

    inv = lab_inventory()
    monkeypatch.setattr(run_cli.sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(typer, "confirm", lambda *a, **k: False)
    with pytest.raises(Refused) as exc:
        run_cli._confirm_or_refuse(plan_for(inv, "compact-defrag", []), False)
    assert exc.value.exit_code == ExitCode.UNSAFE == 3
    # the restore asks for the inventory's name: anything else is "no"
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    monkeypatch.setattr(typer, "prompt", lambda *a, **k: "yes")
    with pytest.raises(Refused):
        run_cli._confirm_or_refuse(plan_for(inv, "restore", [f"snapshot={snap}"]), False)


def test_lab_help_names_the_labs_own_net() -> None:
    proc = _etcdops("lab", "--help", ETCDOPS_LAB_NET="127.45.9.", COLUMNS="200")
    assert proc.returncode == 0 and "127.45.9.N" in proc.stdout and "127.0.1.N" not in proc.stdout
