"""The README's Quick start, run as written: every `.venv/bin/etcdops ...` line of its code block,
in order, from a project root of its own (its own loopback /24), without ETCDOPS_HOME, as a user
runs it. Each must exit 0: a scale-out keeps the lab's inventory current, so the runbooks that
need every member in it (compact-defrag, restore) go on working; the runs are listed from
another directory too (the state directory does not follow the current one)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import ETCDOPS, REPO, make_root, net, unplanned_commands

pytestmark = pytest.mark.lab

NET = net(23)
README = REPO / "README.md"


def quick_start(readme: str) -> list[list[str]]:
    """The etcdops commands of the README's Quick start block, comments left out."""
    section = readme[readme.index("## Quick start") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the Quick start has no ```sh block"
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].endswith("/etcdops"):
            commands.append(words[1:])
        else:
            assert not words or words[:2] == ["make", "setup"], f"not an etcdops line: {line}"
    return commands


def test_the_readme_quick_start_runs_end_to_end_as_written(tmp_path: Path) -> None:
    commands = quick_start(README.read_text())
    assert commands[0] == ["lab", "up"] and commands[-1] == ["lab", "down"]
    assert any(c[:2] == ["run", "scale-out"] for c in commands)
    root = make_root(tmp_path)
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "ETCDOPS_HOME"}
    env.update(ETCDOPS_LAB_NET=NET, XDG_STATE_HOME=str(state))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def etcdops(args: list[str], cwd: Path = root) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ETCDOPS), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )

    try:
        for args in commands:
            proc = etcdops(args)
            assert proc.returncode == 0, (
                f"etcdops {shlex.join(args)} exited {proc.returncode}\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
            if args[:2] == ["run", "scale-out"]:  # the lab's inventory follows the cluster
                assert "inventory: changed" in proc.stdout, proc.stdout[-2000:]
        listed = etcdops(["runs", "list"], cwd=elsewhere)
        assert listed.returncode == 0 and "scale-out" in listed.stdout, listed.stdout
        assert "compact-defrag" in listed.stdout and "successful" in listed.stdout
    finally:
        etcdops(["lab", "down"])
    runs = state / "etcdops" / "runs"
    assert runs.is_dir() and not (root / ".etcdops" / "runs").exists()
    unplanned = unplanned_commands(root, runs)
    assert not unplanned, "\n".join(unplanned)
