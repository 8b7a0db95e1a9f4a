"""Bad input is exit 2 with one line naming what and where, before anything is touched (issue
28.10): YAML nested 1,000 deep in flow style, an inventory that is a FIFO or /dev/zero, a bad
ETCDOPS_LOCK_TTL, a `path` param under a file, a report path that cannot be written. Each runs
etcdops as a process, bounded in time: a hang is a failure, not a stuck suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BOUND = 60.0  # s; each of these is refused in well under a second when it works

CLOSED = (  # an inventory whose only host is a closed port: refusals must come before connecting
    "all:\n  children:\n    etcd:\n      hosts:\n        a: {ansible_host: 127.0.9.9, "
    "ansible_port: 9, etcd_peer_url: 'http://127.0.9.9:2380', "
    "etcd_client_url: 'http://127.0.9.9:2379'}\n"
)


def etcdops(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "etcdops", *args],
            capture_output=True,
            text=True,
            timeout=BOUND,
            cwd=home,
            env={**os.environ, "ETCDOPS_HOME": str(home), **(env or {})},
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"etcdops {' '.join(args)} did not return in {BOUND:g}s") from None


def refused(proc: subprocess.CompletedProcess[str], *said: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one line
    for text in said:
        assert text in proc.stderr, proc.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "inventories" / "closed").mkdir(parents=True)
    (root / "inventories" / "closed" / "hosts.yml").write_text(CLOSED)
    (root / "runbooks").symlink_to(Path(__file__).resolve().parents[2] / "runbooks")
    return root


DEEP = "[" * 1000 + "]" * 1000


def test_flow_yaml_nested_1000_deep_in_group_vars(home: Path) -> None:
    inv = home / "inventories" / "closed"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "group_vars" / "all" / "deep.yml").write_text(f"x: {DEEP}\n")
    for args in (["validate", "-i", "closed"], ["status", "-i", "closed"]):
        refused(etcdops(home, *args), "deep.yml", "nested")


def test_flow_yaml_nested_1000_deep_in_a_runbooks_file(home: Path) -> None:
    books = home / "mine"
    books.mkdir()
    (books / "deep.yml").write_text(f"name: deep\ndescription: x\nsteps: {DEEP}\n")
    refused(etcdops(home, "validate", "--runbooks", str(books)), "deep.yml", "nested")
    refused(etcdops(home, "plan", "deep", "-i", "closed", "--runbooks", str(books)), "deep.yml")


def test_an_inventory_that_is_a_fifo_or_a_device(home: Path, tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    os.mkfifo(alone / "hosts.yml")
    refused(etcdops(home, "status", "-i", str(alone / "hosts.yml")), "FIFO")
    refused(etcdops(home, "status", "-i", "/dev/zero"), "/dev/zero")
    # a FIFO among an inventory's files: every file is read (checks, digests, Ansible)
    os.mkfifo(home / "inventories" / "closed" / "extra.ini")
    refused(etcdops(home, "validate", "-i", "closed"), "extra.ini", "not a regular file")


def test_a_saved_plan_that_is_a_device_or_a_fifo(home: Path, tmp_path: Path) -> None:
    refused(etcdops(home, "run", "--plan", "/dev/zero", "--yes"), "/dev/zero")
    os.mkfifo(tmp_path / "plan.json")
    refused(etcdops(home, "run", "--plan", str(tmp_path / "plan.json"), "--yes"), "plan.json")


@pytest.mark.parametrize("ttl", ["abc", "-5", "0", "2", "99999"])
def test_a_bad_lock_ttl_is_refused_before_anything(home: Path, ttl: str) -> None:
    proc = etcdops(home, "run", "status", "-i", "closed", "--yes", env={"ETCDOPS_LOCK_TTL": ttl})
    refused(proc, "ETCDOPS_LOCK_TTL")
    assert proc.stdout == ""  # not even the plan: nothing was read
    assert not (home / ".etcdops" / "runs").exists()


def test_a_path_param_under_a_file_is_refused_before_anything(home: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for dest in (f"{tmp_path}/afile/sub", f"{tmp_path}/afile/sub/deeper"):
        proc = etcdops(home, "plan", "snapshot", "-i", "closed", "-p", f"dest={dest}")
        refused(proc, "param dest", "afile is not a directory")


@pytest.mark.parametrize("option", ["--report", "--junit", "--html"])
def test_an_output_path_that_cannot_be_written_is_refused_first(
    home: Path, tmp_path: Path, option: str
) -> None:
    (tmp_path / "afile").write_text("x")
    for bad, said in (
        (f"{tmp_path}/afile/r.out", "is not a directory"),
        (f"{tmp_path}/missing/r.out", "does not exist"),
        (str(tmp_path), "is a directory"),
        ("/dev/full", "not a regular file"),
    ):
        proc = etcdops(home, "run", "status", "-i", "closed", "--yes", option, bad)
        refused(proc, option, said)
        assert proc.stdout == "" and not (home / ".etcdops" / "runs").exists()
    assert Path("/dev/full").is_char_device()  # still the device (the page is renamed into place)


def test_a_resume_rechecks_its_params_before_anything(home: Path, tmp_path: Path) -> None:
    """A run journaled with `-p dest=` under what is now a file: `--resume` is refused the same
    way (it crashed after the snapshot was saved on the member, as the first run did)."""
    (tmp_path / "afile").write_text("x")
    run_id = "20260101T000000Z-abc123"
    journal = home / ".etcdops" / "runs" / run_id
    journal.mkdir(parents=True)
    (journal / "plan.json").write_text(
        json.dumps(
            {
                "record": "etcdops-plan/1",
                "run": {"id": run_id, "stamp": run_id[:16], "time": "2026-01-01T00:00:00+00:00"},
                "runbook_file": str(home / "runbooks" / "snapshot.yml"),
                "inventory_path": str(home / "inventories" / "closed"),
                "assignments": [f"dest={tmp_path}/afile/sub"],
            }
        )
    )
    (journal / "events.jsonl").write_text('{"event": "run_started"}\n')
    refused(etcdops(home, "run", "--resume", run_id, "--yes"), "afile is not a directory")
    # and a journal whose plan names another run (or a hostile one) is not resumed
    record = json.loads((journal / "plan.json").read_text())
    record["run"]["stamp"] = "x/../../../../tmp"
    (journal / "plan.json").write_text(json.dumps(record))
    refused(etcdops(home, "run", "--resume", run_id, "--yes"), "not the stamp")
