"""bootstrap on the real lab (issue 31.2): a new 3-member cluster made from an inventory of hosts
that run none (the lab's spares), over TLS with the inventory's certificates; refused where a
member runs and where a data dir holds data; -p wipe=true moves it aside."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import LabEnv, net, running_lab

pytestmark = pytest.mark.lab

NEW = ["node4", "node5", "node6"]


@pytest.fixture(scope="module")
def blab(tmp_path_factory: pytest.TempPathFactory) -> LabEnv:
    with running_lab(tmp_path_factory.mktemp("bootstrap"), net(26), spares=3) as lab:
        lab.inventory_of("fresh", NEW)
        yield lab


def _members(lab: LabEnv) -> dict:
    proc = lab.etcdops("status", "-i", "fresh", "-o", "json")
    return json.loads(proc.stdout)


def test_a_new_cluster_from_the_inventory(blab: LabEnv) -> None:
    proc = blab.etcdops("run", "bootstrap", "-i", "fresh", "--yes", timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = _members(blab)
    assert status["healthy"], status
    assert sorted(m["name"] for m in status["members"]) == NEW
    assert all(m["role"] == "voter" for m in status["members"])
    lab_status = blab.status()  # the lab's own cluster is untouched and another one
    assert lab_status["healthy"] and lab_status["cluster_id"] != status["cluster_id"]
    for host in NEW:
        env = (blab.host_root(host) / "etc" / "etcd" / "etcd.env").read_text()
        assert "ETCD_INITIAL_CLUSTER_STATE=existing" in env
        assert "ETCD_CLIENT_CERT_AUTH=true" in env  # TLS from the inventory


def test_refused_where_a_member_runs_and_where_data_is(blab: LabEnv) -> None:
    running = blab.etcdops("plan", "bootstrap", "-i", "fresh")
    assert running.returncode == 3
    assert "bootstrap is refused where a member runs" in running.stdout
    on_lab = blab.etcdops("run", "bootstrap", "-i", "lab", "--yes")
    assert on_lab.returncode == 3, on_lab.stdout + on_lab.stderr
    for host in NEW:
        blab.service(host, "stop")
    held = blab.etcdops("run", "bootstrap", "-i", "fresh", "--yes")
    assert held.returncode == 3
    assert "is not empty" in held.stdout and "-p wipe=true moves it aside" in held.stdout
    wiped = blab.etcdops(
        "run",
        "bootstrap",
        "-i",
        "fresh",
        "--yes",
        "-p",
        "wipe=true",
        "-p",
        "install=false",
        timeout=1200,
    )
    assert wiped.returncode == 0, wiped.stdout + wiped.stderr
    assert _members(blab)["healthy"]
    for host in NEW:  # the first cluster's data, kept
        lib = blab.host_root(host) / "var" / "lib"
        assert [p for p in lib.iterdir() if p.name.startswith("etcd.wiped-")]
