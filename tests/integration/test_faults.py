"""Faults injected on a real lab (127.OCTET.13.N, see helpers.net): a host's sshd killed in the
middle of a copy, a long command and a facts read; SIGTERM at several points of restore and
scale-out; kill -9 while the install playbook runs. Each ends in a named failure with a
documented exit code, and the run can be resumed to a healthy cluster with nothing deleted.
docs/faults.md lists what is guaranteed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    ETCDOPS,
    LabEnv,
    frozen,
    kill_sshd,
    net,
    newest_run,
    running_lab,
    runs,
    start,
    start_sshd,
    wait_for_event,
)

pytestmark = pytest.mark.lab
NET = net(13)
STOP_BOUND = 20.0  # s from SIGTERM to exit (the documented bound is STOP_GRACE + a facts read)


@pytest.fixture(scope="module")
def flab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("faults"), NET, members=3, spares=1) as labenv:
        books = labenv.root / "my-runbooks"
        books.mkdir()
        (books / "copies.yml").write_text(COPIES)
        yield labenv


COPIES = """name: copies
description: a big upload, a big download and a long command on node2
lock: none
params:
  what: {type: choice, choices: [upload, download, sleep], required: true}
  file: {type: path, required: true}
steps:
  - name: Upload
    when: params.what == 'upload'
    target: host:node2
    upload: {src: "{{ params.file }}", dest: "{{ dirname(host.etcd.data_dir) }}/big.bin"}
  - name: Download
    when: params.what == 'download'
    target: host:node2
    download: {src: "{{ dirname(host.etcd.data_dir) }}/big.bin", dest: "{{ params.file }}.back"}
  - name: Sleep
    when: params.what == 'sleep'
    target: host:node2
    timeout: 120
    command: "sleep 60"
"""


def copies(lab: LabEnv, what: str, file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(ETCDOPS),
            "run",
            "copies",
            "-i",
            "lab",
            "--yes",
            "--runbooks",
            "my-runbooks",
            "-p",
            f"what={what}",
            "-p",
            f"file={file}",
        ],
        cwd=lab.root,
        env=lab.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("what", ["upload", "download", "sleep"])
def test_a_host_sshd_killed_mid_operation_is_a_named_step_failure_and_resumes(
    flab: LabEnv, tmp_path: Path, what: str
) -> None:
    big = tmp_path / "big.bin"
    if what in ("upload", "download"):
        with open(big, "wb") as fh:  # large enough that the copy is still going when sshd dies
            for _ in range(768):
                fh.write(os.urandom(1 << 20))
    if what == "download":
        subprocess.run(
            ["cp", str(big), str(flab.host_root("node2") / "var" / "lib" / "big.bin")], check=True
        )
    before = runs(flab)
    proc = copies(flab, what, big)
    run_dir = newest_run(flab, before)
    wait_for_event(run_dir, "host_started", {"upload": 1, "download": 2, "sleep": 3}[what])
    time.sleep(0.4)
    kill_sshd(flab, "node2")
    try:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, (
            proc.returncode,
            out,
            err,
        )  # a step failure, not an internal error (70)
        assert "internal error" not in err and "Traceback" not in err
        assert "node2" in err and "lost the connection" in err and "--resume" in err, err
    finally:
        start_sshd(flab, "node2")
    resumed = flab.etcdops("run", "--resume", run_dir.name, "--yes", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    if what == "upload":
        copy = flab.host_root("node2") / "var" / "lib" / "big.bin"
        assert copy.stat().st_size == big.stat().st_size
        copy.unlink()
    if what == "download":
        assert Path(f"{big}.back").stat().st_size == big.stat().st_size
        (flab.host_root("node2") / "var" / "lib" / "big.bin").unlink()


def test_a_facts_read_cut_by_a_dead_sshd_reports_the_host_unreachable(flab: LabEnv) -> None:
    with frozen(flab.host_root("node2") / "run" / "etcd.pid"):  # the read of node2 hangs in etcdctl
        proc = subprocess.Popen(
            [str(ETCDOPS), "status", "-i", "lab"],
            cwd=flab.root,
            env=flab.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # the read of node2 is under way (its curl or etcdctl waits on the frozen etcd) when its
        # sshd dies: the session is cut, so the host is unreachable, not its etcd down
        assert reading(flab.client_url("node2"), within=15), "the read of node2 never started"
        kill_sshd(flab, "node2")
        out, err = proc.communicate(timeout=60)
    start_sshd(flab, "node2")
    assert proc.returncode == 0 and "internal error" not in err, out + err
    assert "node2    UNREACHABLE" in out, out
    flab.wait_healthy()


def reading(url: str, within: float) -> bool:
    """Whether a process reading url (curl or etcdctl on a lab host) shows up within seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
            except OSError:
                continue
            if url.encode() in cmdline and (b"curl" in cmdline or b"etcdctl" in cmdline):
                return True
        time.sleep(0.05)
    return False


def sigterm_at(
    lab: LabEnv, args: list[str], event: str, step: int, hold: str | None = None
) -> tuple[str, str]:
    """Start a run, SIGTERM it at event/step; returns (run id, stderr) once it exited, within
    STOP_BOUND. hold: a host whose etcd is frozen from then on (so that a wait step is still
    waiting)."""
    before = runs(lab)
    proc = start(lab, *args)
    run_dir = newest_run(lab, before)
    wait_for_event(run_dir, "step_finished", step - 1) if hold else wait_for_event(
        run_dir, event, step
    )
    pidfile = lab.host_root(hold) / "run" / "etcd.pid" if hold else None
    with frozen(pidfile) if pidfile else contextlib.nullcontext():
        wait_for_event(run_dir, event, step)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - sent
    assert proc.returncode == 8, (proc.returncode, out, err)  # interrupted, resumable
    assert took < STOP_BOUND, f"took {took:.1f}s to stop"
    assert f"etcdops run --resume {run_dir.name}" in err and "SIGTERM received" in err, err
    assert json.loads((run_dir / "result.json").read_text())["status"] == "interrupted"
    return run_dir.name, err


@pytest.mark.parametrize(
    ("event", "step", "hold"), [("step_started", 4, None), ("host_started", 8, "node3")]
)
def test_sigterm_during_restore_stops_at_a_safe_point_and_resumes(
    flab: LabEnv, event: str, step: int, hold: str | None
) -> None:
    assert flab.etcdops("run", "snapshot", "-i", "lab", "--yes").returncode == 0
    flab.ctl("put", "/sigterm/after-snapshot", "1")
    run_id, _ = sigterm_at(
        flab, ["restore"], event, step, hold
    )  # 4: stopping etcd, 8: waiting for health (fenced)
    resumed = flab.etcdops("run", "--resume", run_id, "--yes", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    flab.wait_healthy()
    assert (
        flab.ctl("get", "/sigterm/", "--prefix", "--keys-only").split() == []
    )  # the snapshot's data
    for host in ("node1", "node2", "node3"):  # nothing deleted: this run's old data dir kept aside
        assert list(
            (flab.host_root(host) / "var" / "lib").glob(f"etcd.pre-restore-{run_id.split('-')[0]}")
        )


def test_sigterm_while_waiting_for_a_learner_stops_at_once_and_resumes(flab: LabEnv) -> None:
    before = runs(flab)
    proc = start(flab, "scale-out", "-p", "host=node4", "-p", "catchup_timeout=300")
    run_dir = newest_run(flab, before)
    wait_for_event(run_dir, "step_finished", 5)  # the learner's etcd has started
    with frozen(
        flab.host_root("node4") / "run" / "etcd.pid"
    ):  # it cannot catch up: the wait goes on
        wait_for_event(run_dir, "host_started", 6)
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - sent
    assert proc.returncode == 8 and took < STOP_BOUND, (proc.returncode, took, err)
    assert f"--resume {run_dir.name}" in err and "during step 6" in err, err
    resumed = flab.etcdops("run", "--resume", run_dir.name, "--yes", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    voters = sorted(m["name"] for m in flab.wait_healthy()["members"] if m["role"] == "voter")
    assert voters == ["node1", "node2", "node3", "node4"]
    assert flab.etcdops("run", "scale-in", "-i", "lab", "--yes", "-p", "host=node4").returncode == 0
    flab.wait_healthy()


def playbook_processes(run_id: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if (
            "ansible-playbook" in cmd or "ansible-playbook-guard" in cmd
        ) and run_id.encode() in env:
            found.append(f"{proc.name}: {cmd[:120]}")
    return found


def _environ(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def test_kill_9_during_the_install_playbook_leaves_nothing_running(flab: LabEnv) -> None:
    before = runs(flab)
    proc = start(flab, "scale-out", "-p", "host=node4", "-p", "wipe=true")
    run_dir = newest_run(flab, before)
    wait_for_event(run_dir, "host_started", 1)
    deadline = time.monotonic() + 60
    while not playbook_processes(run_dir.name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert playbook_processes(run_dir.name), "the playbook never started"
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 15
    while playbook_processes(run_dir.name) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not playbook_processes(run_dir.name), playbook_processes(run_dir.name)
    masters = subprocess.run(
        ["pgrep", "-f", "ssh: .*\\[mux\\]"], capture_output=True, text=True
    ).stdout.split()
    assert not [m for m in masters if run_dir.name.encode() in _environ(m)], (
        "a ControlPersist master is left"
    )
    resumed = flab.etcdops("run", "--resume", run_dir.name, "--yes", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert flab.etcdops("run", "scale-in", "-i", "lab", "--yes", "-p", "host=node4").returncode == 0
    flab.wait_healthy()
