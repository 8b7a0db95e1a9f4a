"""Plans as people read them (output.plan_text): decisions, not template expressions; commands
folded to a terminal's width; pre-flight lines that say the problem found, none for what was not
asked, and no check passing on a snapshot that is not there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from etcdops.inventory import Inventory
from etcdops.output import plan_markdown, plan_text
from etcdops.serialize import plan_dict
from tests.helpers import lab_facts, lab_inventory, plan_for

EXPRESSION = re.compile(r"facts\.|params\.|vars\.|\{\{|\| *length|\bmembers \|")


@pytest.fixture
def inv() -> Inventory:
    return lab_inventory()


def _snapshot(tmp_path: Path) -> Path:
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    return snap


def _plans(inv: Inventory, tmp_path: Path) -> dict[str, str]:
    return {
        "restore": plan_text(plan_for(inv, "restore", [f"snapshot={_snapshot(tmp_path)}"])),
        "scale-out": plan_text(plan_for(inv, "scale-out", ["host=node4", "install=false"])),
        "scale-in": plan_text(plan_for(inv, "scale-in", ["host=node1"])),
        "replace-member": plan_text(
            plan_for(inv, "replace-member", ["old=node3", "new=node4", "install=false"])
        ),
        "compact-defrag": plan_text(plan_for(inv, "compact-defrag", [])),
        "snapshot": plan_text(plan_for(inv, "snapshot", [])),
        "status": plan_text(plan_for(inv, "status", [])),
    }


def test_no_template_expression_in_any_built_in_plan(inv: Inventory, tmp_path: Path) -> None:
    for name, text in _plans(inv, tmp_path).items():
        leaked = [line for line in text.splitlines() if EXPRESSION.search(line)]
        assert not leaked, (name, leaked)


def test_conditions_are_said_in_words(inv: Inventory, tmp_path: Path) -> None:
    plans = _plans(inv, tmp_path)
    assert (
        "wait up to 120s until there is a leader, every member is healthy and the member list "
        "has all of them" in plans["restore"]
    )
    # scale-out's verification, said from the facts it reads, with the host's name
    assert "until node4 is a member, node4 is a voter, node4 has started, every member is " in (
        " ".join(plans["scale-out"].split())
    )
    assert "re-checked on the live cluster right before it runs" in plans["scale-out"]
    assert "the members are the ones planned" in plans["scale-out"]
    assert "SKIPPED (not asked: -p keep=0, -p daily=0)" in plans["snapshot"]
    # JSON keeps the expression for whoever reviews it exactly
    until = [
        a["describe"][0]
        for s in plan_dict(plan_for(inv, "status", []))["steps"]
        for a in s["actions"]
        if s["kind"] == "wait"
    ]
    assert until and "facts.healthy" in until[0]


def test_a_steps_timeout_is_the_one_its_wait_has(inv: Inventory, tmp_path: Path) -> None:
    text = _plans(inv, tmp_path)["restore"]
    verify = text[text.index("] Verify one cluster id") :].split("\n\n")[0]
    assert "timeout 30s" in verify and "wait up to 30s" in verify, verify


def test_pre_flight_lines_for_params_not_asked_are_not_shown(
    inv: Inventory, tmp_path: Path
) -> None:
    snap = _snapshot(tmp_path)
    # the revision is bumped by default (bump_revision=auto): the check is made and shown
    text = plan_text(plan_for(inv, "restore", [f"snapshot={snap}"]))
    assert [line for line in text.splitlines() if "pre-flight [ok]" in line and "bump" in line]
    text = plan_text(plan_for(inv, "restore", [f"snapshot={snap}", "bump_revision=0"]))
    assert not [line for line in text.splitlines() if "pre-flight" in line and "bump" in line]
    on_34 = plan_for(
        inv,
        "restore",
        [f"snapshot={snap}", "bump_revision=5"],
        facts=lab_facts(inv, version="3.4.23"),
    )
    assert (
        "pre-flight [FAILED] etcd 3.4's snapshot restore (etcdctl 3.4.23) has no --bump-revision"
        in (plan_text(on_34))
    )


def test_a_failed_check_says_the_problem_found(inv: Inventory) -> None:
    plan = plan_for(inv, "scale-out", ["host=node1", "install=false"])
    failed = [c.said() for c in plan.failed_checks]
    assert "node1 is already a member of the cluster" in failed, failed
    text = plan_text(plan)
    assert "pre-flight [FAILED] node1 is already a member of the cluster" in text
    assert "not a member of the cluster yet" not in text
    md = plan_markdown(plan)
    assert "**node1 is already a member of the cluster**" in md


def test_no_check_passes_on_a_snapshot_that_is_not_there(inv: Inventory, tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    plan = plan_for(inv, "restore", [f"snapshot={missing}"])
    text = plan_text(plan)
    assert f"pre-flight [FAILED] no snapshot at {missing} (nothing is there)" in text
    passed = [line for line in text.splitlines() if line.startswith("pre-flight [ok]")]
    assert not [
        line for line in passed if "snapshot" in line and "etcdutl is available" not in line
    ]
    assert all(c.exit_code == 3 for c in plan.failed_checks)  # refused, as the README says

    empty = tmp_path / "empty"
    empty.mkdir()
    plan = plan_for(inv, "restore", [f"dir={empty}"])
    text = plan_text(plan)
    assert f"pre-flight [FAILED] no snapshot with its metadata in {empty}" in text
    checks = [line for line in text.splitlines() if line.startswith("pre-flight [ok]")]
    assert not [line for line in checks if "sha256" in line or "metadata" in line], checks
    assert "the snapshot  passes" not in text


def test_commands_folded_to_the_terminal_and_whole_with_commands(
    inv: Inventory, tmp_path: Path
) -> None:
    plan = plan_for(inv, "restore", [f"snapshot={_snapshot(tmp_path)}"])
    folded = plan_text(plan, width=80)
    assert max(len(line) for line in folded.splitlines()) <= 80
    assert "      run   " in folded and "…" in folded
    assert re.search(r"and \d+ reads? \(--commands shows every command\)", folded)
    whole = plan_text(plan)
    assert "      read  " in whole and "…" not in whole
    longest = max(whole.splitlines(), key=len)
    assert len(longest) > 200  # an etcdctl line, whole
    # `$` and `?` marks are words now
    assert not re.search(r"^\s*[$?] ", whole, re.M)


def test_sizes_in_one_unit_system(inv: Inventory, tmp_path: Path) -> None:
    for name, text in _plans(inv, tmp_path).items():
        assert not re.search(r"\d MB\b|\d bytes\b", text), name
        assert "and keeps" not in text, name  # the margin was read as what is left free


def test_playbook_tasks_name_the_host_only_when_it_is_not_the_steps(inv: Inventory) -> None:
    from etcdops.transport.ansible import task_event  # (was `node4: node4: TASK ok`)

    ok = {"event": "runner_on_ok", "event_data": {"host": "node4", "task": "Install", "res": {}}}
    changed = {
        "event": "runner_on_ok",
        "event_data": {"host": "node4", "task": "Unit", "res": {"changed": True}},
    }
    start = {"event": "runner_on_start", "event_data": {"host": "node4", "task": "Unit"}}
    assert task_event(ok, ("node4",)) == ("ok", "task Install: ok")
    assert task_event(changed, ("node4",)) == ("changed", "task Unit: changed")
    assert task_event(start, ("node4",)) == ("started", "task Unit")
    assert task_event(ok, ("node4", "node5")) == ("ok", "node4: task Install: ok")
    assert task_event({"event": "verbose"}, ("node4",)) is None
