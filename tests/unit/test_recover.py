"""recover's plan (runbooks/recover.yml) on facts of a cluster that has lost its quorum, and what it
decides from (etcdops/recovery.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from etcdops.facts.model import ClusterFacts, HostFacts
from etcdops.impact import impact_lines
from etcdops.inventory import Inventory
from etcdops.recovery import last_reported, most_data, survey
from tests.helpers import lab_facts, lab_inventory, plan_for


@pytest.fixture
def inv() -> Inventory:
    return lab_inventory()


def lost(inv: Inventory, applied: dict[str, int], gone: tuple[str, ...] = ()) -> ClusterFacts:
    """No leader; the hosts in applied answer status at that applied index (revision 5 + it); the
    others are reachable with etcd stopped, but those in gone, which SSH cannot reach."""
    facts = lab_facts(inv, leader=None)
    hosts = {}
    for name, hf in facts.hosts.items():
        if name in applied and hf.status is not None:
            status = replace(hf.status, applied_index=applied[name], revision=5 + applied[name])
            hosts[name] = replace(hf, status=status, healthy=False)
        else:
            hosts[name] = HostFacts(host=name, reachable=name not in gone, error="etcd is down")
    return replace(facts, hosts=hosts, leader_id=None, leader_host=None)


def test_a_healthy_cluster_is_refused(inv: Inventory) -> None:
    plan = plan_for(inv, "recover", ["force=true"])
    failed = [c.said() for c in plan.failed_checks]
    assert any("the cluster has a quorum: recover is refused" in f for f in failed), failed
    assert all(c.exit_code == 3 for c in plan.failed_checks)


def test_recovers_from_the_member_with_the_most_data_and_rejoins_the_others(
    inv: Inventory,
) -> None:
    facts = lost(inv, {"node1": 10, "node2": 12}, gone=("node3",))
    plan = plan_for(inv, "recover", ["force=true"], facts=facts)
    assert not plan.failed_checks, [c.said() for c in plan.failed_checks]
    assert plan.variables["vars"]["from"] == "node2"
    assert plan.variables["vars"]["rejoin"] == ["node1"]
    text = "\n".join(impact_lines(plan))
    assert "node2: applied index 12" in text and "<- recovered from" in text
    assert "left out (cannot be reached over SSH; add them later with scale-out): node3" in text
    # the start as a new cluster takes the quorum arithmetic to one voter, so that the joins are
    # judged on the cluster they join
    start = next(s for s in plan.steps if s.quorum and s.quorum.change == "new_cluster")
    assert start.hosts == ("node2",) and start.quorum.voters_after == 1
    add = next(s for s in plan.steps if s.quorum and s.quorum.change == "add_learner")
    assert add.quorum.refusal is None and add.hosts == ("node2",)  # asked of the survivor
    env = next(s for s in plan.steps if s.name.startswith("Write etcd.env on node1 (join"))
    diff = env.actions[0].action.diff
    assert "+ETCD_INITIAL_CLUSTER=node2=" in diff and ",node1=" in diff
    assert "node3=" not in diff.split("+ETCD_INITIAL_CLUSTER=")[1].splitlines()[0]
    # the flag goes in once, and out again before the restart
    force, unforce = [s for s in plan.steps if s.kind == "template"][:2]
    assert "+ETCD_FORCE_NEW_CLUSTER=true" in force.actions[0].action.diff
    assert "-ETCD_FORCE_NEW_CLUSTER=true" in unforce.actions[0].action.diff


def test_from_names_the_member(inv: Inventory) -> None:
    facts = lost(inv, {"node1": 10, "node2": 12}, gone=("node3",))
    plan = plan_for(inv, "recover", ["force=true", "from=node1"], facts=facts)
    assert plan.variables["vars"]["from"] == "node1" and not plan.failed_checks


def test_reachable_stopped_members_refuse_without_force(inv: Inventory) -> None:
    facts = lost(inv, {"node1": 10})  # node2 and node3 reachable, etcd stopped
    plan = plan_for(inv, "recover", [], facts=facts)
    failed = [c.said() for c in plan.failed_checks]
    assert any("etcd is stopped on node2, node3" in f and "-p force=true" in f for f in failed)
    assert not plan_for(inv, "recover", ["force=true"], facts=facts).failed_checks


def test_no_member_answering_is_refused(inv: Inventory) -> None:
    facts = lost(inv, {}, gone=())
    plan = plan_for(inv, "recover", ["force=true"], facts=facts)
    failed = [c.said() for c in plan.failed_checks]
    assert any("no member's etcd answers" in f for f in failed), failed


def test_most_data_is_the_highest_applied_index_then_revision(inv: Inventory) -> None:
    assert most_data(lost(inv, {"node1": 10, "node2": 12, "node3": 12})) == "node2"
    assert most_data(lost(inv, {})) == ""


def test_what_a_member_last_reported_comes_from_earlier_plans(
    inv: Inventory, tmp_path: Path
) -> None:
    for run, applied in (("20260101T000000Z-aaaaaa", 7), ("20260102T000000Z-bbbbbb", 9)):
        (tmp_path / run).mkdir()
        plan = {
            "inventory": "lab",
            "created": run[:16],
            "cluster": {"endpoints": [{"host": "node3", "applied_index": applied, "revision": 3}]},
        }
        (tmp_path / run / "plan.json").write_text(json.dumps(plan))
    (tmp_path / "20260103T000000Z-cccccc").mkdir()
    (tmp_path / "20260103T000000Z-cccccc" / "plan.json").write_text("{not json")
    last = last_reported("lab", tmp_path)
    assert last["node3"]["applied_index"] == 9  # the newest
    assert last_reported("other", tmp_path) == {}
    lines = survey(lost(inv, {"node1": 10}, gone=("node3",)), ["node1", "node3"], "node1", last)
    assert lines[0].startswith("node1: applied index 10") and lines[0].endswith("recovered from")
    assert lines[1] == (
        "node3: SSH failed; last reported 20260102T000000Z: applied index 9, revision 3"
    )
