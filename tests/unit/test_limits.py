"""Bounded parsing: alias bombs, deep nesting and huge files are refused quickly, naming the
file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from etcdops.errors import BadInput, InventoryError, RunbookError
from etcdops.inventory import load_inventory
from etcdops.runbook import load_runbook
from etcdops.runs import load_record
from etcdops.snapshots import read_meta

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
    for p, c in zip("abcdefghi", "bcdefghij", strict=True)
)


def test_an_alias_bomb_in_an_inventory_is_refused_at_once(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  children:\n    etcd:\n      hosts:\n        n1: {}\n")
    (inv / "group_vars" / "all.yml").write_text(BOMB)
    start = time.monotonic()
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert time.monotonic() - start < 5
    assert "all.yml" in str(info.value) and "alias" in str(info.value)
    assert info.value.exit_code == 2


def test_an_alias_bomb_and_deep_nesting_in_a_runbook_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(
        "name: x\nsteps: [1]\nvars:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines())
    )
    with pytest.raises(RunbookError, match="alias"):
        load_runbook(bomb)
    deep = tmp_path / "deep.yml"
    deep.write_text("name: x\nsteps: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(RunbookError, match="deep"):
        load_runbook(deep)


def test_a_huge_or_deep_saved_plan_and_snapshot_metadata_are_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(BadInput, match="not a saved plan"):
        load_record(plan)
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    snap.with_suffix(".json").write_text(json.dumps({"pad": "x" * (2 << 20)}))
    meta, problem = read_meta(str(snap))
    assert meta == {} and "larger than" in problem
    snap.with_suffix(".json").write_text('{"keys": "$(touch /tmp/x)"}')
    assert "keys is not a whole number" in read_meta(str(snap))[1]
