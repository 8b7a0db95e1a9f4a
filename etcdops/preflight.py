"""Typed pre-flight probes: read-only checks of a host at plan time, output parsed in Python.

A runbook names one with its host (`data_dir_empty: "{{ params.host }}"`); the probe builds
its command, runs it through the plan's read-only probe and judges the result.
"""

from __future__ import annotations

from typing import Protocol

from etcdops.commands import Command, Raw, sh
from etcdops.inventory import Host
from etcdops.transport import Result


class Runner(Protocol):
    def run(self, host: str, command: Command) -> Result: ...


class DataDirEmpty:
    """The host's data dir (and WAL dir) is absent or empty: nothing of a previous member is left."""

    def command(self, host: Host) -> Command:
        assert host.etcd is not None
        dirs = [host.etcd.data_dir, *([host.etcd.wal_dir] if host.etcd.wal_dir else [])]
        return sh("find", *dirs, "-mindepth", "1", "-maxdepth", "1", "-print", Raw("2>/dev/null | head -n 3"))

    def check(self, runner: Runner, host: Host, file: str, line: int) -> tuple[bool, str]:
        if host.etcd is None:
            return False, f"{host.name} has no etcd settings"
        try:
            result = runner.run(host.name, self.command(host))
        except Exception as exc:  # noqa: BLE001 - a probe that cannot run is a failed check, named
            return False, f"cannot check {host.name}: {exc}"
        entries = [line for line in result.stdout.splitlines() if line.strip()]
        if entries:
            return False, (f"{host.etcd.data_dir} on {host.name} is not empty (holds {', '.join(entries)}: a "
                           "previous member?); -p wipe=true moves it aside")
        return True, ""


PROBES = {"data_dir_empty": DataDirEmpty()}
