from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etcdops.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETCDOPS_HOME", str(repo))


def test_runbooks_list_and_show() -> None:
    out = runner.invoke(app, ["runbooks", "list"])
    assert out.exit_code == 0 and "restore" in out.stdout and "snapshot" in out.stdout
    show = runner.invoke(app, ["runbooks", "show", "restore"])
    assert (
        show.exit_code == 0
        and "token" in show.stdout
        and "Stop etcd on every member" in show.stdout
    )


def test_validate_without_connecting() -> None:
    out = runner.invoke(app, ["validate", "--inventory", "example-prod"])
    assert (
        out.exit_code == 0 and "ok: inventory" in out.stdout and "ok: runbook restore" in out.stdout
    )


def test_bad_inventory_exit_2_one_line(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    etcd:\n      hosts:\n        a: {}\n"
    )
    out = runner.invoke(app, ["plan", "status", "--inventory", str(tmp_path)])
    assert out.exit_code == 2
    assert out.stderr.strip().count("\n") == 0 and "a.etcd_peer_url" in out.stderr


def test_unknown_runbook_and_bad_param_exit_2() -> None:
    # the committed example inventory (never the lab's, which `lab up` rewrites): refused before
    # connecting
    for args, said in (
        (["plan", "nope"], "nope: no such runbook"),
        (["plan", "restore", "-p", "stop_timeout=soon"], "param stop_timeout: expected an integer"),
        (["plan", "restore", "-p", "novalue"], "'novalue': expected key=value"),
    ):
        out = runner.invoke(app, [*args, "-i", "example-prod"])
        assert out.exit_code == 2 and said in out.stderr, out.stderr


def test_run_without_terminal_and_without_yes_is_refused(tmp_path: Path) -> None:
    # the inventory points at a closed port: the refusal must come before anything runs
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    etcd:\n      hosts:\n        a: {ansible_host: 127.0.9.9, "
        "ansible_port: 9,"
        " etcd_peer_url: 'http://127.0.9.9:2380', etcd_client_url: 'http://127.0.9.9:2379'}\n"
    )
    out = runner.invoke(app, ["run", "status", "-i", str(tmp_path)])
    assert out.exit_code == 3 and "--yes" in out.stderr


# ----- the installed command as a process: main() exits without the interpreter's finalization
# -----
def _etcdops(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdops", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


def test_exit_codes_and_output_survive_the_fast_exit() -> None:
    listed = _etcdops("runbooks", "list")
    assert listed.returncode == 0 and "scale-out" in listed.stdout  # flushed before os._exit
    unknown = _etcdops("plan", "nope", "-i", "example-prod")
    assert unknown.returncode == 2 and "no such runbook" in unknown.stderr
    assert _etcdops("no-such-command").returncode == 2  # typer's own usage error


def test_a_closed_stdout_stops_with_141_and_no_internal_error() -> None:
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: the first write fails with EPIPE
    try:
        proc = _etcdops("runbooks", "list", stdout=writer)
    finally:
        os.close(writer)
    assert proc.returncode == 141, proc.stderr
    assert "internal error" not in proc.stderr


def test_atexit_handlers_still_run_before_the_fast_exit(tmp_path: Path) -> None:
    # ansible-runner removes its temporary folders in an atexit handler
    marker = tmp_path / "ran"
    code = (
        f"import atexit, pathlib; atexit.register(pathlib.Path({str(marker)!r}).write_text, "
        "'yes')\n"
        "from etcdops.cli.main import _exit; _exit(3)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and marker.read_text() == "yes"
