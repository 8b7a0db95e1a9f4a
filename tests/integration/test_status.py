"""`status` and a small runbook over real SSH against real etcd."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.integration.helpers import NET, REPO, LabEnv, frozen

pytestmark = pytest.mark.lab


def test_status_json_reports_a_healthy_three_member_cluster(lab: LabEnv) -> None:
    status = lab.status()
    assert status["healthy"] is True
    assert status["voters"] == 3 and status["quorum"] == 2 and status["failures_tolerated"] == 1
    assert sorted(m["name"] for m in status["members"]) == ["node1", "node2", "node3"]
    assert all(m["role"] == "voter" and m["started"] for m in status["members"])
    assert all(int(m["id"], 16) > 0 for m in status["members"])  # hex ids
    assert sum(1 for e in status["endpoints"] if e["is_leader"]) == 1
    for e in status["endpoints"]:
        assert e["version"].startswith("3.5") and e["db_size"] > 0 and e["revision"] >= 1
        assert e["endpoint"] == f"https://{NET}{e['host'][-1]}:2379"  # the lab runs TLS by default


def test_status_text_names_the_leader(lab: LabEnv) -> None:
    out = lab.etcdops("status", "-i", "lab", check=True).stdout
    leader = lab.status()["leader"]
    assert ": HEALTHY, " in out and "NOT HEALTHY" not in out and f"leader {leader}" in out


def test_status_runbook_runs_over_ssh(lab: LabEnv) -> None:
    proc = lab.etcdops("run", "status", "-i", "lab", "--yes", check=True)
    assert "finished: 2 steps" in proc.stdout
    assert proc.stderr.count("REVISION") == 3  # the table header of each member's endpoint status


def test_a_host_ssh_cannot_reach_is_read_through_another_member(lab: LabEnv) -> None:
    """Issue 28.6: the leader host's sshd is down, its etcd is fine. The old code said "NOT
    HEALTHY, leader none" and `--check` exited 1; its etcd is read through another member host
    (etcd's gateway there asks its client URL) and shown as such. A host whose etcd does not
    answer either is still unreachable, and the cluster not healthy."""
    leader = lab.status()["leader"]
    pidfile = lab.host_root(leader) / "run" / "sshd.pid"
    os.kill(int(pidfile.read_text()), signal.SIGTERM)  # the host's sshd is gone; its etcd runs
    try:
        proc = lab.etcdops("status", "-i", "lab")
        assert proc.returncode == 0, proc.stderr
        # the SSH failure is the host's: shown as such, its etcd read through another member
        # host (issue 30: it counted as an unhealthy voter though its etcd was healthy)
        row = next(line for line in proc.stdout.splitlines() if line.startswith(f"  {leader} "))
        assert f"host unreachable ({leader}: cannot connect" in row, row
        assert "etcd healthy, read through node" in row, row
        assert "NOT HEALTHY" not in proc.stdout and "voters 3 (healthy 3)" in proc.stdout
        assert lab.etcdops("status", "-i", "lab", "--check").returncode == 0
    finally:
        lab.etcdops("lab", "up", check=True, timeout=120)  # restarts the whole lab cleanly
    lab.wait_healthy()


def test_status_lists_what_is_set_aside_on_hosts_that_are_no_members(lab: LabEnv) -> None:
    """Issue 28.13: a data dir set aside by etcdops on a host that is no member any more (a
    scale-in moves it aside as DATA_DIR.removed-STAMP) is in status's SET ASIDE list; the old code
    read only the members' hosts."""
    lib = lab.host_root("node5") / "var" / "lib"
    aside = lib / "etcd.removed-20261201T000000Z"
    (aside / "member").mkdir(parents=True)
    (aside / "member" / "db").write_bytes(b"x" * 4096)
    (aside / ".etcdops-set-aside.json").write_text('{"by": "etcdops"}')
    try:
        proc = lab.etcdops("status", "-i", "lab")
        assert proc.returncode == 0, proc.stderr
        row = next((line for line in proc.stdout.splitlines() if str(aside) in line), "")
        assert row.startswith("  node5 ") and row.endswith("(not a member)"), proc.stdout
        status = lab.status()
        node5 = next(e for e in status["elsewhere"] if e["host"] == "node5")
        assert [i["path"] for i in node5["set_aside"]] == [str(aside)]
        assert node5["set_aside"][0]["ours"] and node5["reachable"]
        assert all(e["host"] != "node5" for e in status["endpoints"])  # no member
    finally:
        shutil.rmtree(aside)


def test_status_latency_measures_every_member_and_leaves_no_key(lab: LabEnv) -> None:
    proc = lab.etcdops("status", "-i", "lab", "--latency", "-o", "json", check=True)
    data = json.loads(proc.stdout)
    timed, hosts = data["latency"], {m["host"] for m in data["members"]}
    assert timed["error"] is None and set(timed["members"]) == hosts and len(hosts) >= 3, timed
    for f in timed["members"].values():
        assert 0 < f["put_p50_ms"] <= f["put_p99_ms"] and 0 < f["get_p50_ms"] <= f["get_p99_ms"]
    assert not lab.ctl("get", "etcdops/latency/", "--prefix", "--keys-only").strip()
    text = lab.etcdops("status", "-i", "lab", "--latency", check=True).stdout
    assert sum(line.startswith("LATENCY node") for line in text.splitlines()) == len(hosts), text


def test_status_check_and_plan_json_schema(lab: LabEnv) -> None:
    import json

    import jsonschema

    assert lab.etcdops("status", "-i", "lab", "--check").returncode == 0
    lab.etcdops("run", "snapshot", "-i", "lab", "--yes", check=True)  # restore's latest is there
    for args in (
        ["plan", "restore", "-i", "lab"],
        ["plan", "scale-out", "-i", "lab", "-p", "host=node4"],
        ["plan", "compact-defrag", "-i", "lab"],
    ):
        proc = lab.etcdops(*args, "-o", "json")
        assert proc.returncode == 0, proc.stderr  # a plan whose pre-flight passes
        schema = json.loads((REPO / "docs" / "plan.schema.json").read_text())
        jsonschema.validate(json.loads(proc.stdout), schema)


def test_plan_markdown_for_a_merge_request(lab: LabEnv) -> None:
    proc = lab.etcdops("plan", "scale-out", "-i", "lab", "-p", "host=node4", "-o", "markdown")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("## etcdops plan: `scale-out` on `lab`")
    assert "### Pre-flight" in md and "- [x]" in md and "### Steps" in md
    assert "quorum: voters 3 → 4" in md and "```sh" in md and "member add node4 --learner" in md


def test_a_stopped_member_is_named_down_and_a_hung_one_still_asked(lab: LabEnv) -> None:
    lab.service("node3", "stop")
    try:
        status = lab.status()
        node3 = next(e for e in status["endpoints"] if e["host"] == "node3")
        assert node3["error"] == f"nothing listens on {NET}3:2379: etcd is not running"
        assert not status["healthy"] and status["voters"] == 3
    finally:
        lab.service("node3", "start")
    lab.wait_healthy()
    # a hung etcd still holds its port: the listener check passes and etcdctl's timeout decides
    with frozen(lab.host_root("node3") / "run" / "etcd.pid"):
        status = lab.status()
    node3 = next(e for e in status["endpoints"] if e["host"] == "node3")
    assert node3["error"] and "nothing listens" not in node3["error"]
    lab.wait_healthy()


def test_a_member_without_quorum_is_not_healthy_once_its_versions_are_cached(lab: LabEnv) -> None:
    """With etcdctl 3.5+ cached as the host's, the linearizable member list stands for endpoint
    health: a member cut from its quorum still answers endpoint status, and must not pass."""
    lab.status()  # the installed versions are read, and cached for the reads below
    home = lab.env.get("ETCDOPS_HOME") or str(lab.root)
    cached = json.loads((Path(home) / ".etcdops" / "cache" / "facts.json").read_text())
    assert any(
        k.startswith("node1\0") and v["etcdctl"].startswith("3.5") for k, v in cached.items()
    )
    lab.service("node2", "stop")
    lab.service("node3", "stop")
    try:
        status = lab.status()
        node1 = next(e for e in status["endpoints"] if e["host"] == "node1")
        assert node1["reachable"] and node1["revision"]  # it answers endpoint status ...
        assert not node1["healthy"] and node1["error"]  # ... but serves no quorum read
        assert not status["healthy"]
    finally:
        lab.service("node2", "start")
        lab.service("node3", "start")
    lab.wait_healthy()


def test_facts_come_from_etcds_gateway_and_from_etcdctl_where_it_is_switched_off(
    lab: LabEnv, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Once the installed versions are cached (3.5+), status and the linearizable member list come
    from etcd's JSON gateway in one curl; a member that serves no gateway is read through etcdctl
    in the same script, with the same facts."""
    from etcdops.facts import versions as installed
    from etcdops.facts.gather import gather
    from etcdops.facts.script import facts_script
    from etcdops.facts.sections import host_facts_from_output
    from etcdops.inventory import load_inventory
    from etcdops.transport.pool import Pool

    lab.status()  # the installed versions are read, and cached
    monkeypatch.setenv("ETCDOPS_HOME", lab.env["ETCDOPS_HOME"])
    inventory = load_inventory(lab.root / "inventories" / "lab")
    env_file = lab.host_root("node2") / "etc" / "etcd" / "etcd.env"
    original = env_file.read_text()
    pool = Pool(inventory)
    try:

        def read(name: str) -> tuple[str, object]:
            out = (
                pool.get(name)
                .run(facts_script(inventory.host(name), True, installed.load()), 20)
                .stdout
            )
            return out, host_facts_from_output(inventory.host(name), out)

        out, hf = read("node2")
        assert "@@gateway 200 status" in out and "@@status" not in out and "etcdctl" not in out
        ids = {
            int(s["Status"]["header"]["member_id"])
            for s in json.loads(lab.ctl("-w", "json", "endpoint", "status"))
        }
        assert hf.healthy and hf.status.member_id in ids and set(hf.member_ids) == ids  # type: ignore[attr-defined]

        env_file.write_text(original + "ETCD_ENABLE_GRPC_GATEWAY=false\n")
        lab.service("node2", "stop")
        lab.service("node2", "start")
        lab.wait_healthy()
        out, hf = read("node2")
        assert "@@gateway" not in out and "@@status" in out  # the gateway is off: etcdctl answered
        assert hf.healthy and hf.status.member_id in ids and set(hf.member_ids) == ids  # type: ignore[attr-defined]
        facts = gather(inventory, pool, versions=False)
        assert all(h.healthy for h in facts.hosts.values()) and len(facts.members) == 3
    finally:
        pool.close()
        env_file.write_text(original)
        lab.service("node2", "stop")
        lab.service("node2", "start")
        lab.wait_healthy()
