"""Runs ansible-playbook for etcdops so that it never outlives etcdops.

ansible-runner starts this (as its "binary") in place of ansible-playbook. It starts the playbook in
a process group of its own, writes its pid to the run's journal folder (so a `--resume` can tell a
playbook of the same run that is still running), and watches etcdops: if etcdops dies (kill -9),
it ends the playbook's whole group (TERM, then KILL after 5 s), ssh children included, and closes
the ControlPersist master connections the playbook opened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL = 0.2
KILL_AFTER = 5.0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def end_group(pgid: int) -> None:
    for sig, wait in ((signal.SIGTERM, KILL_AFTER), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def close_masters(control_dir: str) -> None:
    """`ssh -O exit` every ControlPersist master socket in control_dir (bounded, best effort)."""
    folder = Path(control_dir)
    if not control_dir or not folder.is_dir():
        return
    for sock in folder.iterdir():
        try:
            subprocess.run(
                ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "etcdops-control"],
                capture_output=True,
                timeout=5,
            )
        except (OSError, subprocess.SubprocessError):
            continue


def main() -> None:
    parent = int(os.environ.get("ETCDOPS_PARENT_PID", "0"))
    pidfile = os.environ.get("ETCDOPS_PLAYBOOK_PIDFILE", "")
    control_dir = os.environ.get("ANSIBLE_SSH_CONTROL_PATH_DIR", "")
    playbook = os.environ.get("ETCDOPS_ANSIBLE_PLAYBOOK", "ansible-playbook")
    proc = subprocess.Popen([playbook, *sys.argv[1:]], start_new_session=True)
    if pidfile:
        Path(pidfile).write_text(f"{proc.pid}\n")

    def forward(signum: int, _frame: object) -> None:  # ansible-runner's own cancel or timeout
        end_group(proc.pid)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        while proc.poll() is None:
            if parent and not alive(parent):
                end_group(proc.pid)
                break
            time.sleep(POLL)
        code = proc.wait()
    finally:
        close_masters(control_dir)
        if pidfile:
            Path(pidfile).unlink(missing_ok=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
