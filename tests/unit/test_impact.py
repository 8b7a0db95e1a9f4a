"""The impact header, read from the planned steps (etcdops/impact.py), and a runbook's own lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdops.impact import impact_lines
from etcdops.inventory import Inventory
from etcdops.output import plan_text
from etcdops.serialize import plan_dict
from tests.helpers import lab_facts, lab_inventory, plan_for


@pytest.fixture
def inv() -> Inventory:
    return lab_inventory()


def _text(lines: list[str]) -> str:
    return "\n".join(" ".join(line.split()) for line in lines)


def test_restore_says_what_stops_for_how_long_and_what_is_set_aside(
    inv: Inventory, tmp_path: Path
) -> None:
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    plan = plan_for(inv, "restore", [f"snapshot={snap}"])
    text = _text(impact_lines(plan))
    # started fenced at step 7: clients reach the members again only at the step marked
    # `clients: back`, which waits for them healthy on their client URLs
    assert (
        "stops: etcd on node1, node2, node3 at step 4, started again at step 7, serving clients "
        "again at step 16 (held off from them in between)"
    ) in text
    assert "clients have no etcd (no quorum serving them) from step 4 until step 16 sees it" in text
    assert "now 3 voters, quorum 2, tolerates 1 failure" in text
    assert "worst at step 4 (Stop etcd on every member" in text and "0 of 3 voters" in text
    assert "no quorum" in text
    assert "replaced by the snapshot's at step 5" in text  # what is lost: at the swap
    assert "leases: not read: revoked while the cluster is fenced" in text
    assert "set aside: " in text and "as etcd.pre-restore-20260101T000000Z at step 5" in text
    assert "(kept: `etcdops run prune` removes old ones)" in text
    # shown above the steps, and held by the plan's JSON (saved plans, the HTML report)
    assert plan_dict(plan)["impact"] == impact_lines(plan)
    shown = plan_text(plan)
    assert shown.index("IMPACT (what this run does to the cluster)") < shown.index("[1/")


def test_scale_in_says_the_member_leaves_and_the_quorum_after(inv: Inventory) -> None:
    text = _text(impact_lines(plan_for(inv, "scale-in", ["host=node3"])))
    assert "the member node3 leaves the cluster at step" in text
    assert "etcd on node3 at step" in text and "not started again by this run" in text
    assert "(remove node3): voters 3 -> 2, quorum 2 -> 2, tolerates 1 -> 0 failures" in text
    assert "worst at step" in text and "tolerates 0 failures" in text  # 2 voters, quorum 2
    assert "/var/lib/etcd on node3 as etcd.removed-20260101T000000Z" in text


def test_compact_defrag_stops_nothing_and_names_the_members_that_stall(inv: Inventory) -> None:
    text = _text(impact_lines(plan_for(inv, "compact-defrag", [])))
    assert "stops: " in text and "while it is defragmented, a member answers none" in text
    assert "node2" in text and "node3" in text and "node1" in text
    assert "tolerates 1 failure" in text and "no step lowers the failures tolerated" in text
    assert "the keyspace's history is compacted at step 2" in text


def test_scale_out_says_the_quorum_after_the_promotion(inv: Inventory) -> None:
    text = _text(impact_lines(plan_for(inv, "scale-out", ["host=node4", "install=false"])))
    assert "(add_learner node4): a learner does not count" in text
    assert "(promote node4): voters 3 -> 4, quorum 2 -> 3, tolerates 1 -> 1 failure" in text
    assert "no step lowers the failures tolerated" in text and "stops: nothing" in text


def test_a_read_only_runbook_has_no_header(inv: Inventory) -> None:
    plan = plan_for(inv, "status", [])
    assert impact_lines(plan) == [] and "IMPACT" not in plan_text(plan)


def test_a_runbook_adds_its_own_lines_rendered_and_empty_ones_left_out(
    inv: Inventory, tmp_path: Path
) -> None:
    book = tmp_path / "own.yml"
    book.write_text(
        "name: own\n"
        "params: {age: {type: str, default: 3 days}}\n"
        "impact:\n"
        '  - "lost: every write of the last {{ params.age }}"\n'
        "  - \"{{ '' }}\"\n"
        '  - "leases: {{ facts.members | length }} members\' leases expire"\n'
        "steps:\n"
        "  - {name: Stop node2, target: 'host:node2', etcd_service: stopped}\n"
    )
    plan = plan_for(inv, "own", [], runbook=book, facts=lab_facts(inv))
    lines = impact_lines(plan)
    assert lines[-2:] == [
        "lost: every write of the last 3 days",
        "leases: 3 members' leases expire",
    ]
    assert any("etcd on node2 at step 1" in line for line in lines)
