"""Disk space on a real lab (127.OCTET.14.N): a member's data filesystem too small (a tmpfs the test
mounts under the host's root) makes restore and scale-out refuse in pre-flight with the cluster
untouched, and a defragmentation that would not fit is skipped with the reason; a disk that fills
during a copy is a clean step failure that `--resume` finishes once space is made; prune removes
only old items of its own making, keeps the newest, and the cluster stays healthy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    LabEnv,
    net,
    newest_run,
    running_lab,
    runs,
    start,
    wait_for_event,
)

pytestmark = pytest.mark.lab
MiB = 1 << 20


def mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True, timeout=30
    )


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def klab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("disk"), net(14), members=3, spares=1) as labenv:
        mounts: list[Path] = []
        labenv.mounts = mounts  # type: ignore[attr-defined]
        try:
            yield labenv
        finally:
            for m in reversed(mounts):
                umount(m)


def small_data_fs(lab: LabEnv, host: str, size: str) -> Path:
    """The host's var/lib (where its data dir is) becomes a tmpfs of `size`, its data moved onto
    it."""
    lib = lab.host_root(host) / "var" / "lib"
    keep = lab.root / f"keep-{host}"
    running = (lab.host_root(host) / "run" / "etcd.pid").exists()
    if running:
        lab.service(host, "stop")
    if lib.exists():
        shutil.move(str(lib), keep)
    mount_tmpfs(lib, size)
    lab.mounts.append(lib)  # type: ignore[attr-defined]
    if keep.exists():
        for item in keep.iterdir():
            shutil.move(str(item), lib / item.name)
        keep.rmdir()
    if running:
        lab.service(host, "start")
    return lib


def test_a_data_filesystem_too_small_refuses_restore_and_scale_out_and_skips_its_defrag(
    klab: LabEnv,
) -> None:
    klab.ctl("put", "/disk/k", "v")
    assert klab.etcdops("run", "snapshot", "-i", "lab", "--yes").returncode == 0
    small_data_fs(klab, "node3", "256m")
    klab.wait_healthy()
    small_data_fs(klab, "node4", "64m")
    before = klab.status()
    restore = klab.etcdops("run", "restore", "-i", "lab", "--yes")
    assert restore.returncode == 3, restore.stdout + restore.stderr
    refusal = next(
        line for line in restore.stderr.splitlines() if "node3:" in line and "has no room" in line
    )
    assert (
        "needs" in refusal
        and "free" in refusal
        and str(klab.host_root("node3") / "var" / "lib") in refusal
    )
    assert "node1:" not in "".join(
        line for line in restore.stderr.splitlines() if "refused" in line
    )
    out = klab.etcdops("run", "scale-out", "-i", "lab", "--yes", "-p", "host=node4")
    assert out.returncode == 3 and "node4:" in out.stderr and "has no room" in out.stderr, (
        out.stderr
    )
    after = klab.status()
    assert (
        after["cluster_id"] == before["cluster_id"]
        and len(after["members"]) == 3
        and after["healthy"]
    )
    assert "v" in klab.ctl("get", "/disk/k")
    defrag = klab.etcdops(
        "run",
        "compact-defrag",
        "-i",
        "lab",
        "--yes",
        "-p",
        "rule=always",
        "--output",
        "json",
        timeout=600,
    )
    assert defrag.returncode == 0, defrag.stderr
    steps = json.loads(defrag.stdout)["steps"]
    hosts = {h["host"]: h for s in steps if s["name"].startswith("Defragment") for h in s["hosts"]}
    assert (
        hosts["node3"]["status"] == "skipped"
        and "writes a full copy of the database" in hosts["node3"]["detail"]
    )
    assert hosts["node1"]["status"] == "changed" and hosts["node2"]["status"] == "changed"


COPY = """name: copy
description: one big copy to node4
lock: none
params:
  file: {type: path, required: true}
steps:
  - name: Copy
    target: host:node4
    timeout: 300
    upload: {src: "{{ params.file }}", dest: "{{ host.etcd.data_dir }}-copy.bin"}
"""


def test_a_disk_that_fills_during_a_copy_is_a_clean_failure_and_resume_finishes(
    klab: LabEnv, tmp_path: Path
) -> None:
    lib = klab.host_root("node4") / "var" / "lib"
    if lib.is_mount():
        umount(lib)
    mount_tmpfs(lib, "1400m")
    klab.mounts.append(lib)  # type: ignore[attr-defined]
    books = klab.root / "disk-books"
    books.mkdir(exist_ok=True)
    (books / "copy.yml").write_text(COPY)
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(256 * MiB)  # sparse on this side: the copy still writes every byte there
    before = runs(klab)
    proc = start(klab, "copy", "--runbooks", str(books), "-p", f"file={big}")
    run_dir = newest_run(klab, before)
    wait_for_event(run_dir, "host_started", 1)
    # the copy (~1-2 s at OpenSSH's rate) is held while the disk fills: etcdops is stopped, so its
    # ssh
    # child soon blocks on an empty pipe; whatever it wrote by then, 1300 MB more leave no room for
    # it
    os.kill(proc.pid, signal.SIGSTOP)
    filler = lib / "filler"
    try:
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=1300"],
            capture_output=True,
            timeout=60,
        )
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    assert (
        "node4" in err
        and "cannot write" in err
        and ("no space left" in err.lower() or "free" in err)
    ), err
    assert "--resume" in err and "internal error" not in err
    assert not list(lib.glob("*.part")), "a partial copy is never left behind"
    filler.unlink()
    resumed = klab.etcdops("run", "--resume", run_dir.name, "--yes", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (lib / "etcd-copy.bin").stat().st_size == 256 * MiB
    (lib / "etcd-copy.bin").unlink()


def test_prune_removes_only_old_items_of_its_own_making_and_keeps_the_newest(klab: LabEnv) -> None:
    for host in ("node1", "node2", "node3", "node4"):
        lib = klab.host_root(host) / "var" / "lib"
        if lib.is_mount():
            umount(lib)
    klab.etcdops("lab", "up", "--members", "3", "--spares", "1", check=True, timeout=180)
    klab.wait_healthy()
    stamps = []
    for _ in range(2):  # two restores: two runs' worth of items set aside
        assert klab.etcdops("run", "snapshot", "-i", "lab", "--yes").returncode == 0
        proc = klab.etcdops("run", "restore", "-i", "lab", "--yes")
        assert proc.returncode == 0, proc.stderr
        stamps.append(
            sorted((klab.host_root("node1") / "var" / "lib").glob("etcd.pre-restore-*"))[-1].name
        )
        time.sleep(1.1)
    foreign = klab.host_root("node2") / "var" / "lib" / "etcd.removed-20200101T000000Z"
    foreign.mkdir()
    (foreign / "precious").write_text("not etcdops'")
    refused = klab.etcdops("run", "prune", "-i", "lab", "--yes")
    assert refused.returncode == 3 and "-p older_than" in refused.stderr, refused.stderr
    plan = klab.etcdops("plan", "prune", "-i", "lab", "-p", "older_than=0")
    assert stamps[0] in plan.stdout and "no etcdops marker" in plan.stdout, plan.stdout
    proc = klab.etcdops("run", "prune", "-i", "lab", "--yes", "-p", "older_than=0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lib = klab.host_root("node1") / "var" / "lib"
    assert not (lib / stamps[0]).exists() and (lib / stamps[1]).exists()  # the newest run's kept
    assert (
        klab.host_root("node1") / "etc" / "etcd" / f"etcd.env.bak-{stamps[1].split('-')[-1]}"
    ).exists()
    assert (foreign / "precious").read_text() == "not etcdops'"
    assert klab.wait_healthy()["healthy"]


@pytest.mark.parametrize(
    "remote_python", [True, False], ids=["python3 on the host", "tee and openssl"]
)
def test_bulk_copies_hash_both_ends_and_name_a_full_disk(
    klab: LabEnv, tmp_path: Path, remote_python: bool
) -> None:
    """The OpenSSH copier both ways, with the host's python3 and with its shell fallback: what
    arrives is what was sent, both ends' sha256 match, and a write that fills the host's disk is
    named as such."""
    import hashlib

    from etcdops.errors import TransferError
    from etcdops.inventory import load_inventory
    from etcdops.transport.ssh import SSHTransport
    from etcdops.transport.ssh.transfer import Transfer

    transport = SSHTransport(load_inventory(klab.root / "inventories" / "lab").host("node4"))
    try:
        # the copier itself, whichever path a size would pick
        copier = Transfer(transport)._copier()  # noqa: SLF001
        copier.remote_python = remote_python
        # the lab's hosts have python3 (as Ansible's managed hosts do): the first case takes that
        # path
        assert transport.run("command -v python3", 30).ok
        src = tmp_path / "blob.bin"
        src.write_bytes(os.urandom(12 * MiB + 12345))
        want = hashlib.sha256(src.read_bytes()).hexdigest()
        remote = str(klab.host_root("node4") / "var" / "tmp" / "blob.bin")
        os.makedirs(os.path.dirname(remote), exist_ok=True)
        sent = copier.put(str(src), remote, 60)
        assert sent.local_sha256 == sent.remote_sha256 == want and sent.bytes == src.stat().st_size
        assert hashlib.sha256(Path(remote).read_bytes()).hexdigest() == want
        back = tmp_path / "back.bin"
        got = copier.get(remote, str(back), 60)
        assert (
            got.local_sha256 == got.remote_sha256 == want and back.read_bytes() == src.read_bytes()
        )
        os.unlink(remote)
        small = klab.host_root("node4") / "var" / "small"
        mount_tmpfs(small, "4m")
        klab.mounts.append(small)  # type: ignore[attr-defined]
        with pytest.raises(TransferError) as failed:
            copier.put(str(src), str(small / "blob.bin"), 60)
        assert "No space left on device" in str(failed.value) and "node4" in str(failed.value), str(
            failed.value
        )
        with pytest.raises(TransferError) as missing:
            copier.get(str(small / "absent.bin"), str(back), 60)
        assert "absent.bin" in str(missing.value), str(missing.value)
    finally:
        transport.close()
