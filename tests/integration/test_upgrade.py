"""The upgrade runbook on one TLS lab of its own (3 members on 127.OCTET.51.N, started on Debian's
etcd 3.4.23): refusals first (downgrade, skipped minor, unhealthy cluster, 3.4 -> 3.5 with auth),
then the minor upgrade 3.4.23 -> 3.5.16 killed (-9) once its first member is upgraded and
finished with --resume, then the patch upgrade 3.5.16 -> 3.5.30, each under a writer whose every
acknowledged write must survive; every member and the cluster version at the target, the leader
upgraded last, the previous binaries kept beside the new ones, nothing deleted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    REPO,
    LabEnv,
    Writer,
    check_writes,
    enable_auth,
    kill_at,
    net,
    running_lab,
    runs,
    start,
)

pytestmark = pytest.mark.lab
TOOLS = REPO / ".tools"
ETCD34, ETCD3516, ETCD3530 = TOOLS / "etcd-3.4", TOOLS / "etcd", TOOLS / "etcd-3.5.30"
MEMBERS = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def ulab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    for folder in (ETCD34, ETCD3516, ETCD3530):
        assert (folder / "etcd").is_file(), f"make setup fetches {folder}"
    with running_lab(
        tmp_path_factory.mktemp("upgrade"),
        net(51),
        members=3,
        spares=0,
        env={"ETCDOPS_ETCD_BIN_DIR": str(ETCD34)},
    ) as labenv:
        yield labenv


def source(lab: LabEnv, tools: Path, tmp: Path) -> Path:
    """-p source=DIR as an operator gives it: bin/{etcd,etcdctl,etcdutl} of one version (links:
    the upgrade copies what they point to)."""
    folder = tmp / tools.name
    (folder / "bin").mkdir(parents=True)
    for tool in ("etcd", "etcdctl", "etcdutl"):
        (folder / "bin" / tool).symlink_to(tools / tool)
    return folder


def upgrade(lab: LabEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.etcdops("run", "upgrade", "-i", "lab", "--yes", *args, timeout=900)


def served(lab: LabEnv) -> dict[str, str]:
    status = lab.wait_healthy()
    return {e["host"]: e["version"] for e in status["endpoints"]}


def cluster_version(lab: LabEnv, name: str) -> dict[str, str]:
    ssl = lab.host_root(name) / "etc" / "ssl" / "etcd" / "ssl"
    tls = ["--cacert", ssl / "ca.pem", "--cert", ssl / f"admin-{name}.pem"]
    out = subprocess.run(
        [
            "curl", "-sS", *map(str, tls), "--key", str(ssl / f"admin-{name}-key.pem"),
            f"{lab.client_url(name)}/version",
        ],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def restart_order(run_dir: Path) -> tuple[str, list[str]]:
    """(the leader when the run started, the members in the order etcd was restarted on them)."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    leader = next(e["leader"] for e in events if e.get("event") == "leader")
    order = [
        e["hosts"][0]
        for e in events
        if e.get("event") == "step_started" and e["name"].startswith("Restart etcd on ")
    ]
    return leader, order


def test_refusals_before_anything_changes(ulab: LabEnv) -> None:
    assert set(served(ulab).values()) == {"3.4.23"}
    cases = {
        "3.4.20": "refused (downgrade)",
        "3.6.14": "refused (skipped minor)",
        "3.9.0": "refused (unknown line)",
    }
    for version, words in cases.items():
        proc = upgrade(ulab, "-p", f"version={version}")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert words in proc.stderr, proc.stderr
    proc = upgrade(ulab, "-p", "version=not-a-version")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    # an unhealthy member: refused, naming it
    ulab.service("node3", "stop")
    try:
        proc = upgrade(ulab, "-p", "version=3.5.16")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "not every member is healthy" in proc.stderr and "node3" in proc.stderr
    finally:
        ulab.service("node3", "start")
    assert set(served(ulab).values()) == {"3.4.23"}
    # etcd auth on: 3.4 -> 3.5 is no rolling upgrade (etcd's upgrade_3_5 guide)
    vars_file = ulab.root / "inventories" / "lab" / "group_vars" / "all" / "90-test.yml"
    kept = vars_file.read_text() if vars_file.exists() else None
    enable_auth(ulab, "pw-upgrade")
    try:
        proc = upgrade(ulab, "-p", "version=3.5.16")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "etcd auth is enabled" in proc.stderr and "upgrade_3_5" in proc.stderr
    finally:
        ulab.ctl("auth", "disable")  # as root (the test's etcdctl has its credentials)
        ulab.password = None
        if kept is None:
            vars_file.unlink()
        else:
            vars_file.write_text(kept)
    # nothing was touched: no previous binaries kept, no etcd.env backup
    for name in MEMBERS:
        assert not list((ulab.host_root(name) / "bin").glob("etcd-3*"))
        assert not list((ulab.host_root(name) / "etc" / "etcd").glob("etcd.env.bak-*"))


def test_minor_upgrade_killed_after_the_first_member_then_resumed(
    ulab: LabEnv, tmp_path: Path
) -> None:
    src = source(ulab, ETCD3516, tmp_path)
    writer = Writer(ulab, tmp_path / "writes.json", [ulab.client_url(n) for n in MEMBERS])
    try:
        before = runs(ulab)
        proc = start(ulab, "upgrade", "-p", "version=3.5.16", "-p", f"source={src}")
        # step 10: the first member is back, healthy, on 3.5.16 and caught up (1 snapshot, 2 keep,
        # 3-5 stage, then per member: 6 leadership, 7 switch, 8 etcd.env, 9 restart, 10 wait)
        run_id = kill_at(ulab, proc, before, "step_finished", 10)
        versions = served(ulab)
        assert sorted(versions.values()) == ["3.4.23", "3.4.23", "3.5.16"], versions
        resumed = ulab.etcdops("run", "--resume", run_id, "--yes", timeout=900)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    finally:
        result = writer.stop()
    check_writes(ulab, result, ulab.client_url("node1"))
    assert served(ulab) == dict.fromkeys(MEMBERS, "3.5.16")
    assert cluster_version(ulab, "node2") == {"etcdserver": "3.5.16", "etcdcluster": "3.5.0"}
    leader, order = restart_order(ulab.root / ".etcdops" / "runs" / run_id)
    assert sorted(order) == sorted(MEMBERS) and order[-1] == leader, (leader, order)
    for name in MEMBERS:  # the previous binaries beside the new ones, nothing deleted
        root = ulab.host_root(name)
        kept = root / "bin" / "etcd-3.4.23"
        assert (
            kept.is_file()
            and "3.4.23"
            in subprocess.run(
                [str(kept), "--version"], capture_output=True, text=True, check=True
            ).stdout
        )
        assert (root / "bin" / "etcdctl-3.4.23").is_file()
        assert (root / "var" / "lib" / "etcd" / "member").is_dir()
    snapshots = list((ulab.root / "snapshots").rglob("*.db"))
    assert snapshots, "the rollback point: a snapshot saved before any member changed"
    # (3.4's etcd has no etcdutl: nothing to keep of it, and the source's is installed)
    assert (ulab.host_root("node1") / "bin" / "etcdutl").is_file()


def test_patch_upgrade_with_a_writer_then_a_downgrade_refused(ulab: LabEnv, tmp_path: Path) -> None:
    src = source(ulab, ETCD3530, tmp_path)
    writer = Writer(ulab, tmp_path / "writes.json", [ulab.client_url(n) for n in MEMBERS])
    try:
        before = runs(ulab)
        proc = upgrade(ulab, "-p", "version=3.5.30", "-p", f"source={src}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ROLLBACK POINT" in proc.stdout and "(patch)" in proc.stdout
    finally:
        result = writer.stop()
    check_writes(ulab, result, ulab.client_url("node3"))
    assert served(ulab) == dict.fromkeys(MEMBERS, "3.5.30")
    assert cluster_version(ulab, "node1") == {"etcdserver": "3.5.30", "etcdcluster": "3.5.0"}
    (run_dir,) = [p for p in (ulab.root / ".etcdops" / "runs").iterdir() if p.name not in before]
    leader, order = restart_order(run_dir)
    assert sorted(order) == sorted(MEMBERS) and order[-1] == leader, (leader, order)
    for name in MEMBERS:
        bins = {p.name for p in (ulab.host_root(name) / "bin").iterdir()}
        assert {"etcd-3.4.23", "etcd-3.5.16", "etcdctl-3.5.16", "etcdutl-3.5.16"} <= bins, bins
        # the staged copies it switched to, the same bytes as the binaries etcd runs from
        staged = ulab.host_root(name) / "bin" / "etcd-3.5.30"
        assert staged.read_bytes() == (ulab.host_root(name) / "bin" / "etcd").read_bytes()
    # a second run has nothing to do; a patch downgrade is refused
    again = upgrade(ulab, "-p", "version=3.5.30")
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout + again.stderr
    down = upgrade(ulab, "-p", "version=3.5.16")
    assert down.returncode == 3 and "refused (downgrade)" in down.stderr, down.stdout + down.stderr


FAKE_ETCD = """#!/bin/sh
# an etcd 3.5.31 that never starts: the upgrade must stop at the first member, naming it
case "$1" in
--version) echo "etcd Version: 3.5.31"; echo "Git SHA: fake" ;;
*) echo "fake etcd: refuses to start" >&2; exit 1 ;;
esac
"""


def test_a_member_that_does_not_come_back_stops_the_run_with_its_rollback(
    ulab: LabEnv, tmp_path: Path
) -> None:
    """After the patch upgrade: a "3.5.31" that never starts. The run stops at the first member,
    names it and prints its rollback; the rollback as printed, run by hand, brings it back."""
    src = source(ulab, ETCD3530, tmp_path)
    (src / "bin" / "etcd").unlink()
    (src / "bin" / "etcd").write_text(FAKE_ETCD)
    (src / "bin" / "etcd").chmod(0o755)
    proc = upgrade(ulab, "-p", "version=3.5.31", "-p", f"source={src}", "-p", "member_timeout=10")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    head = next(i for i, line in enumerate(lines) if "Its rollback, on " in line)
    member = lines[head].split("Its rollback, on ")[1].rstrip(":")
    assert f"{member} did not come back on etcd 3.5.31" in lines[head]
    rollback = [line.strip() for line in lines[head + 1 : head + 7]]
    assert rollback[1].startswith("cp -p ") and rollback[1].split()[2].endswith("/etcd-3.5.30")
    status = json.loads(ulab.etcdops("status", "-i", "lab", "-o", "json").stdout)
    versions = {e["host"]: e["version"] for e in status["endpoints"] if e["host"] != member}
    assert versions == {n: "3.5.30" for n in MEMBERS if n != member}  # the others untouched
    for command in rollback:
        subprocess.run(["bash", "-c", command], check=True, timeout=60)
    assert served(ulab) == dict.fromkeys(MEMBERS, "3.5.30")
