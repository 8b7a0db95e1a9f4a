"""Run a playbook with ansible-runner against the same inventory, limited to some hosts.

The config is checked before anything runs; status, rc and stats map onto our outcome.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops.errors import BadInput, StepFailed
from etcdops.transport.playbook_guard import alive, close_masters


@dataclass(frozen=True)
class PlaybookResult:
    status: str
    rc: int
    changed: int
    failures: dict[str, int]
    stdout_tail: str


PLAYBOOK_WAIT = 60.0  # s a resumed run waits for a playbook of the same run still running


def wait_for_earlier(pidfile: Path, note: Callable[[str], None]) -> None:
    """A playbook of this run that is still running (its runner was killed, a resume started at
    once) is waited for, bounded; still alive after PLAYBOOK_WAIT: refused, naming its pid."""

    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + PLAYBOOK_WAIT
    while alive(pid):
        if time.monotonic() > deadline:
            raise StepFailed(
                "playbook",
                None,
                f"the playbook started by an earlier attempt of this run "
                f"(pid {pid}) is still running after {PLAYBOOK_WAIT:g}s; not starting a second one "
                "beside it. Wait for it or stop it, then resume again",
            )
        note(f"waiting for the playbook of an earlier attempt of this run (pid {pid}) to end")
        time.sleep(1.0)
    pidfile.unlink(missing_ok=True)


def _guard(private: str) -> str:
    """The executable ansible-runner starts in place of ansible-playbook (see playbook_guard)."""
    path = Path(private) / "ansible-playbook-guard"
    path.write_text(
        f"#!{sys.executable}\nfrom etcdops.transport.playbook_guard import main\nmain()\n"
    )
    path.chmod(0o700)
    return str(path)


def run_playbook(
    inventory_path: Path,
    playbook: str,
    limit: tuple[str, ...],
    extravars: Mapping[str, Any],
    timeout: float,
    on_event: Callable[[str], None] | None = None,
    pidfile: Path | None = None,
    stop_reason: Callable[[], str | None] = lambda: None,
    on_progress: Callable[[str], None] | None = None,
    on_task: Callable[[str], None] | None = None,
) -> PlaybookResult:
    """on_event: a task that changed something, failed or found its host unreachable;
    on_progress: a task that was already as wanted (else on_event); on_task: the task that starts
    (a live display shows it)."""
    import ansible_runner  # only when a step needs it: it is slow to import

    play = Path(playbook)
    if not play.is_file():
        raise BadInput(f"playbook {play} does not exist")
    # ansible-playbook is installed beside our own interpreter (the venv), which may not be on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("ansible-playbook", path=path)
    if binary is None:
        raise BadInput("ansible-playbook is not installed (make setup installs ansible-core)")
    if pidfile is not None:
        wait_for_earlier(pidfile, on_event or (lambda _m: None))
    private = tempfile.mkdtemp(prefix="etcdops-ansible-")
    control = Path(private) / "cp"
    control.mkdir()
    guard_env = {
        "ETCDOPS_PARENT_PID": str(os.getpid()),
        "ETCDOPS_ANSIBLE_PLAYBOOK": binary,
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
        "ETCDOPS_PLAYBOOK_PIDFILE": str(pidfile) if pidfile is not None else "",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }

    def handler(event: dict[str, Any]) -> bool:
        said = task_event(event, limit)
        if said is None:
            return True
        kind, text = said
        target = {"started": on_task, "ok": on_progress or on_event}.get(kind, on_event)
        if target is not None:
            target(text)
        return True

    try:
        runner = ansible_runner.run(
            # the guard is started as the "binary": ansible-runner then passes the playbook as given
            # here
            private_data_dir=private,
            cmdline=shlex.quote(str(play.resolve())),
            inventory=str(inventory_path.resolve()),
            limit=",".join(limit),
            extravars=dict(extravars),
            quiet=True,
            timeout=int(timeout),
            event_handler=handler,
            binary=_guard(private),
            cancel_callback=lambda: bool(stop_reason()),
            envvars={
                "PATH": path,
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
                **guard_env,
            },
        )
        stats = runner.stats or {}
        out = runner.stdout.read() if runner.stdout else ""
        changed = sum((stats.get("changed") or {}).values())
        failures = {**(stats.get("failures") or {}), **(stats.get("dark") or {})}
        return PlaybookResult(
            status=runner.status,
            rc=runner.rc,
            changed=changed,
            failures=failures,
            stdout_tail="\n".join(out.strip().splitlines()[-20:]),
        )
    finally:
        # the guard closes them too; this covers a guard that was killed
        close_masters(str(control))
        shutil.rmtree(private, ignore_errors=True)


TASK_EVENTS = {
    "runner_on_start": "started",
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
}


def task_event(event: dict[str, Any], limit: tuple[str, ...]) -> tuple[str, str] | None:
    """(started | ok | changed | failed | unreachable, its line) for one of ansible-runner's task
    events, else None. The host is named only when the playbook runs on more than one: the
    step's line names it already."""
    kind = TASK_EVENTS.get(str(event.get("event")))
    if kind is None:
        return None
    data = event.get("event_data") or {}
    res = data.get("res")
    result: dict[str, Any] = res if isinstance(res, dict) else {}
    if kind == "ok" and result.get("changed"):
        kind = "changed"
    host = str(data.get("host") or "")
    who = f"{host}: " if host and (len(limit) != 1 or host != limit[0]) else ""
    task = str(data.get("task") or "?")
    if kind == "started":
        return kind, f"{who}task {task}"
    return kind, f"{who}task {task}: {kind}"


def check_result(result: PlaybookResult, playbook: str) -> str:
    if result.status != "successful" or result.rc != 0 or result.failures:
        failed = ", ".join(result.failures) or "?"
        raise StepFailed(
            f"playbook {Path(playbook).name}",
            failed,
            f"ansible-runner status {result.status}, rc {result.rc}\n{result.stdout_tail}",
        )
    return json.dumps({"changed": result.changed})
