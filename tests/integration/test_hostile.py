"""Hostile input against the real lab: nothing runs that was not meant to; changed host keys
refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import LabEnv

pytestmark = pytest.mark.lab

RUNBOOK = """\
name: echo-param
description: echo a param on every member
params:
  msg: {type: str, default: hi}
steps:
  - name: Echo {{ params.msg }}
    target: all
    command:
      run: "echo {{ params.msg }} {{ host.name }}"
      show: true
"""


def test_shell_metacharacters_in_params_and_host_names_run_nothing(
    lab: LabEnv, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    books = tmp_path / "books"
    books.mkdir()
    (books / "echo-param.yml").write_text(RUNBOOK)
    inv = tmp_path / "inv"
    shutil.copytree(lab.root / "inventories" / "lab", inv)
    hosts = (inv / "inventory.ini").read_text().replace("node2 ", f"node2$(touch${{IFS}}{marker}) ")
    (inv / "inventory.ini").write_text(hosts)
    lab_vars = inv / "group_vars" / "all" / "00-lab.yml"
    lab_vars.write_text(
        lab_vars.read_text()
        .replace('"{{ inventory_dir }}/../../.lab"', f'"{lab.root}/.lab"')
        .replace(
            'host_root: "{{ lab_root }}/hosts/{{ inventory_hostname }}"',
            'host_root: "{{ lab_root }}/hosts/{{ inventory_hostname[:5] }}"',
        )
    )
    evil = f"$(touch {marker}); `touch {marker}` && touch {marker}"
    plan = lab.etcdops(
        "plan", "echo-param", "-i", str(inv), "--runbooks", str(books), "-p", f"msg={evil}"
    )
    assert plan.returncode == 0, plan.stderr
    run = lab.etcdops(
        "run", "echo-param", "-i", str(inv), "--runbooks", str(books), "-p", f"msg={evil}", "--yes"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"$(touch {marker})" in run.stderr  # echoed back literally
    assert not marker.exists()


def test_changed_host_key_is_refused(lab: LabEnv, tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(lab.root / "inventories" / "lab", inv)
    known = tmp_path / "known_hosts"
    lines = (lab.root / ".lab" / "ssh" / "known_hosts").read_text().splitlines()
    other = (lab.root / ".lab" / "ssh" / "id_ed25519.pub").read_text().split()
    lines[0] = " ".join([lines[0].split()[0], other[0], other[1]])  # node1 now "has" another key
    known.write_text("\n".join(lines) + "\n")
    gv = inv / "group_vars" / "all" / "00-lab.yml"
    gv.write_text(
        gv.read_text()
        .replace('"{{ inventory_dir }}/../../.lab"', f'"{lab.root}/.lab"')
        .replace(
            'etcdops_known_hosts: "{{ lab_root }}/ssh/known_hosts"',
            f'etcdops_known_hosts: "{known}"',
        )
    )
    offered = subprocess.run(
        ["ssh-keygen", "-lf", str(lab.host_root("node1") / "ssh" / "ssh_host_ed25519_key.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    expected = subprocess.run(
        ["ssh-keygen", "-lf", str(lab.root / ".lab" / "ssh" / "id_ed25519.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    for command in (
        ["status", "-i", str(inv)],
        ["plan", "compact-defrag", "-i", str(inv)],
        ["run", "restore", "-i", str(inv), "--yes"],
        ["run", "compact-defrag", "-i", str(inv), "--yes"],
        ["run", "status", "-i", str(inv), "--yes"],
    ):
        proc = lab.etcdops(*command)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 7, (command, out)  # its own exit code: a security event
        assert "HOST KEY CHANGED" in out and "node1" in out and str(known) in out, out
        assert offered in out and expected in out, (
            out
        )  # both fingerprints, as ssh-keygen -l prints them
        assert "not healthy" not in out and "UNREACHABLE" not in out, out


def test_unknown_host_key_is_refused(lab: LabEnv, tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(lab.root / "inventories" / "lab", inv)
    known = tmp_path / "known_hosts"
    lines = (lab.root / ".lab" / "ssh" / "known_hosts").read_text().splitlines()
    known.write_text(
        "\n".join(line for line in lines if f"{lab.net}2]" not in line) + "\n"
    )  # node2 unknown
    gv = inv / "group_vars" / "all" / "00-lab.yml"
    gv.write_text(
        gv.read_text()
        .replace('"{{ inventory_dir }}/../../.lab"', f'"{lab.root}/.lab"')
        .replace(
            'etcdops_known_hosts: "{{ lab_root }}/ssh/known_hosts"',
            f'etcdops_known_hosts: "{known}"',
        )
    )
    offered = subprocess.run(
        ["ssh-keygen", "-lf", str(lab.host_root("node2") / "ssh" / "ssh_host_ed25519_key.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    proc = lab.etcdops("run", "compact-defrag", "-i", str(inv), "--yes")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 7, out
    assert "UNKNOWN HOST KEY" in out and "node2" in out and offered in out and str(known) in out, (
        out
    )
