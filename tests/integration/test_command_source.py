"""Every built-in runbook once on a real TLS lab (issue 27): each command its run executed, as the
journal has it, is one its plan shows (a change among the step's commands, a read among its
reads; a placeholder such as <REVISION> stands for the value filled in when it ran). The same
check runs on every lab of the suite when it goes down (helpers.running_lab); this test makes
sure each runbook is among them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import REPO, LabEnv, net, running_lab, unplanned_commands, voters

pytestmark = pytest.mark.lab

BUILTIN = sorted(p.stem for p in (REPO / "runbooks").glob("*.yml"))


@pytest.fixture(scope="module")
def slab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("source"), net(16), members=3, spares=2) as lab:
        yield lab


def run(lab: LabEnv, *args: str) -> None:
    lab.etcdops("run", *args, "-i", "lab", "--yes", check=True, timeout=900)


def test_every_builtin_runbook_runs_only_commands_its_plan_shows(
    slab: LabEnv, tmp_path: Path
) -> None:
    run(slab, "status")
    run(slab, "snapshot")
    run(slab, "restore", "-p", "snapshot=latest")
    run(slab, "scale-out", "-p", "host=node4")
    slab.set_members(voters(slab))
    run(slab, "compact-defrag", "-p", "rule=always", "-p", "move_leader=true")
    run(slab, "replace-member", "-p", "old=node4", "-p", "new=node5")
    slab.set_members(voters(slab))
    run(slab, "scale-in", "-p", "host=node5")
    slab.set_members(voters(slab))
    slab.lose(("node2", "node3"), "source")  # the quorum is lost: recover from node1
    run(slab, "recover", "-p", "force=true")
    slab.inventory_of("fresh", ["node4", "node5"])  # the retired members: a cluster of their own
    slab.etcdops(
        "run", "bootstrap", "-i", "fresh", "--yes", "-p", "install=false", check=True, timeout=900
    )
    # the retired hosts are the spares now, etcd installed on them by scale-out and replace-member
    run(slab, "restore-drill", "-p", "hosts=spares", "-p", "install=false")
    run(slab, "prune", "-p", "older_than=0m", "-p", "keep=0")
    run(slab, "move-leader")
    ca_key = slab.root / ".lab" / "pki" / "ca-key.pem"
    run(slab, "rotate-certs", "-p", "generate=true", "-p", f"ca_key={ca_key}")
    run(slab, "alarms", "-p", "disarm=NOSPACE")
    # last: the lab's 3.5.16 to 3.5.30, from a directory as the install playbook copies from
    source = tmp_path / "etcd-3.5.30"
    (source / "bin").mkdir(parents=True)
    for tool in ("etcd", "etcdctl", "etcdutl"):
        (source / "bin" / tool).symlink_to(REPO / ".tools" / "etcd-3.5.30" / tool)
    shutil.copy(slab.root / ".lab" / "dist" / "etcd-service.sh", source / "etcd-service.sh")
    run(slab, "upgrade", "-p", "version=3.5.30", "-p", f"source={source}")
    ran = {
        json.loads((d / "plan.json").read_text())["runbook"]: d
        for d in (slab.root / ".etcdops" / "runs").iterdir()
    }
    assert sorted(ran) == BUILTIN  # every built-in runbook ran
    commands = [
        json.loads(line)
        for d in ran.values()
        for line in (d / "events.jsonl").read_text().splitlines()
        if '"command"' in line
    ]
    assert {c["read"] for c in commands} == {True, False}  # changes and reads were journaled
    assert any("planned" in c for c in commands)  # and filled placeholders say where from
    assert unplanned_commands(slab.root) == []
