"""Run a playbook with ansible-runner against the same inventory, limited to some hosts.

The config is checked before anything runs; status, rc and stats map onto our outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops.errors import BadInput, StepFailed


@dataclass(frozen=True)
class PlaybookResult:
    status: str
    rc: int
    changed: int
    failures: dict[str, int]
    stdout_tail: str


def run_playbook(inventory_path: Path, playbook: str, limit: tuple[str, ...], extravars: Mapping[str, Any],
                 timeout: float, on_event: Callable[[str], None] | None = None) -> PlaybookResult:
    import ansible_runner  # only when a step needs it: it is slow to import

    play = Path(playbook)
    if not play.is_file():
        raise BadInput(f"playbook {play} does not exist")
    # ansible-playbook is installed beside our own interpreter (the venv), which may not be on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if shutil.which("ansible-playbook", path=path) is None:
        raise BadInput("ansible-playbook is not installed (make setup installs ansible-core)")
    private = tempfile.mkdtemp(prefix="etcdops-ansible-")

    def handler(event: dict[str, Any]) -> bool:
        if on_event and event.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            data = event.get("event_data", {})
            on_event(f"{data.get('host')}: {data.get('task')} {event['event'].split('_')[-1]}")
        return True

    try:
        runner = ansible_runner.run(
            private_data_dir=private, playbook=str(play.resolve()), inventory=str(inventory_path.resolve()),
            limit=",".join(limit), extravars=dict(extravars), quiet=True, timeout=int(timeout),
            event_handler=handler, envvars={"PATH": path, "ANSIBLE_HOST_KEY_CHECKING": "True",
                                            "ANSIBLE_RETRY_FILES_ENABLED": "False"},
        )
        stats = runner.stats or {}
        out = runner.stdout.read() if runner.stdout else ""
        changed = sum((stats.get("changed") or {}).values())
        failures = {**(stats.get("failures") or {}), **(stats.get("dark") or {})}
        return PlaybookResult(status=runner.status, rc=runner.rc, changed=changed, failures=failures,
                              stdout_tail="\n".join(out.strip().splitlines()[-20:]))
    finally:
        shutil.rmtree(private, ignore_errors=True)


def check_result(result: PlaybookResult, playbook: str) -> str:
    if result.status != "successful" or result.rc != 0 or result.failures:
        failed = ", ".join(result.failures) or "?"
        raise StepFailed(f"playbook {Path(playbook).name}", failed,
                         f"ansible-runner status {result.status}, rc {result.rc}\n{result.stdout_tail}")
    return json.dumps({"changed": result.changed})
