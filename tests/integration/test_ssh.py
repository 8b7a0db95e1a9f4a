"""SSH paths beyond the plain one, on the session lab: a jump host (ProxyJump) and become (sudo)."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.helpers import ETCDOPS, LabEnv

pytestmark = pytest.mark.lab

WHOAMI = """name: whoami
description: who runs the commands on node1
lock: none
steps:
  - name: Who am I
    target: "host:node1"
    command: {run: "echo user=$(id -un)", show: true}
"""


def variant(lab: LabEnv, name: str, extra: str) -> str:
    """A copy of the lab inventory with extra group vars: inventories/NAME."""
    src, dst = lab.root / "inventories" / "lab", lab.root / "inventories" / name
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    with open(dst / "group_vars" / "all" / "90-variant.yml", "a") as fh:
        fh.write(extra)
    return name


def accepted_logins(lab: LabEnv, host: str) -> int:
    return (
        (lab.host_root(host) / "var" / "log" / "sshd.log").read_text().count("Accepted publickey")
    )


def test_status_through_a_jump_host(lab: LabEnv) -> None:
    inv = variant(lab, "jumped", f"\netcdops_jump_host: root@{lab.net}5:2222\n")
    before = accepted_logins(lab, "node5")
    proc = lab.etcdops("status", "-i", inv)
    healthy = ": HEALTHY, " in proc.stdout and "NOT HEALTHY" not in proc.stdout
    assert proc.returncode == 0 and healthy, proc.stdout + proc.stderr
    assert accepted_logins(lab, "node5") > before  # the connections went through node5


def test_a_dead_jump_host_is_reported_as_such(lab: LabEnv) -> None:
    inv = variant(
        lab, "deadjump", f"\netcdops_jump_host: root@{lab.net}5:2299\n"
    )  # nothing listens there
    proc = lab.etcdops("status", "-i", inv)
    assert "UNREACHABLE" in proc.stdout and "2299" in proc.stdout, proc.stdout + proc.stderr


def test_become_runs_commands_through_sudo(lab: LabEnv) -> None:
    (lab.root / "my-runbooks").mkdir(exist_ok=True)
    (lab.root / "my-runbooks" / "whoami.yml").write_text(WHOAMI)
    inv = variant(lab, "become", "\nansible_become: true\nansible_become_user: nobody\n")
    proc = lab.etcdops("run", "whoami", "-i", inv, "--yes", "--runbooks", "my-runbooks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "user=nobody" in proc.stdout + proc.stderr
    plain = lab.etcdops("run", "whoami", "-i", "lab", "--yes", "--runbooks", "my-runbooks")
    assert "user=root" in plain.stdout + plain.stderr


def test_key_from_ssh_agent(lab: LabEnv) -> None:
    import os
    import subprocess

    inv = variant(
        lab, "agent", '\nansible_ssh_private_key_file: ""\n'
    )  # no key file: the agent's key
    out = subprocess.run(
        ["ssh-agent", "-s"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    agent = dict(part.split("=", 1) for line in out.split(";") if "=" in (part := line.strip()))
    env = {
        **lab.env,
        "SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"],
        "HOME": str(lab.root),
    }  # and no ~/.ssh keys

    def status() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ETCDOPS), "status", "-i", inv],
            cwd=lab.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        empty = status()  # the agent holds no key yet: no host can be logged in to
        assert "HEALTHY" not in empty.stdout.replace("NOT HEALTHY", ""), empty.stdout
        subprocess.run(
            ["ssh-add", str(lab.root / ".lab" / "ssh" / "id_ed25519")],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        proc = status()
        healthy = ": HEALTHY, " in proc.stdout and "NOT HEALTHY" not in proc.stdout
        assert proc.returncode == 0 and healthy and "UNREACHABLE" not in proc.stdout, (
            proc.stdout + proc.stderr
        )
    finally:
        os.kill(int(agent["SSH_AGENT_PID"]), 15)


def test_copies_report_their_progress_both_ways(lab: LabEnv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from etcdops.inventory import load_inventory
    from etcdops.transport.ssh import SSHTransport

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(8 << 20))
    remote = str(lab.host_root("node1") / "var" / "lib" / "progress.bin")
    back = tmp_path / "back.bin"
    sent: list[tuple[int, int]] = []
    received: list[tuple[int, int]] = []
    transport = SSHTransport(load_inventory(lab.root / "inventories" / "lab").host("node1"))
    try:
        transport.put(str(src), remote, 60, lambda done, total: sent.append((done, total)))
        transport.get(remote, str(back), 60, lambda done, total: received.append((done, total)))
    finally:
        transport.close()
        os.unlink(remote)
    assert back.read_bytes() == src.read_bytes()
    for calls in (sent, received):
        assert len(calls) > 10 and calls[-1] == (8 << 20, 8 << 20)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
