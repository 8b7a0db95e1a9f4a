"""What every etcdops command imports at start-up: no module that only costs time (measured in
make bench)."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(out.split())


def test_the_ssh_transport_leaves_invoke_out_and_paramiko_working() -> None:
    modules = _modules_after("import etcdops.transport.ssh, paramiko; paramiko.SSHClient()")
    assert "paramiko" in modules
    assert "invoke" not in modules  # paramiko.config's only use of it is ssh_config's `Match exec`


def test_invoke_still_imports_for_whoever_needs_it_later() -> None:
    modules = _modules_after("import etcdops.transport.ssh\nimport invoke")
    assert "invoke" in modules


def test_the_cli_does_not_import_pydantic() -> None:
    # typer >= 0.29 builds a pydantic TypeAdapter per parameter: +0.13-0.19 s on every command
    modules = _modules_after("import etcdops.cli.main, etcdops.cli.run, etcdops.session")
    assert not {m for m in modules if m.split(".")[0] == "pydantic"}
