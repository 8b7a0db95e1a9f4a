"""Durations in the plan (issue 16): bytes of work per host over a rate, default or measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdops.durations import DEFAULT_RATES, MB, Rates
from etcdops.output import plan_text
from etcdops.serialize import plan_dict
from tests.helpers import lab_facts, lab_inventory, plan_for


def test_parallel_steps_take_their_slowest_host_and_serial_ones_the_sum() -> None:
    rates = Rates("prod")
    rate = DEFAULT_RATES["etcd_snapshot_restore"]
    par = rates.predict("etcd_snapshot_restore", [100 * MB, 300 * MB, 0], parallel=True)
    ser = rates.predict("etcd_snapshot_restore", [100 * MB, 300 * MB, 0], parallel=False)
    assert par is not None and ser is not None
    assert par.seconds == pytest.approx(300 * MB / rate) and ser.seconds == pytest.approx(
        400 * MB / rate
    )
    assert par.samples == 0 and "a default rate" in par.describe()
    assert (
        rates.predict("etcd_snapshot_restore", [0, 0], parallel=True) is None
    )  # no work: no prediction
    assert rates.predict("command", [100 * MB], parallel=True) is None  # a kind without a rate


def test_measured_rates_are_learned_saved_and_kept_per_inventory() -> None:
    rates = Rates("prod")
    rates.learn("upload", 400 * MB, 2.0)  # 200 MB/s
    rates.learn("upload", 1 * MB, 0.01)  # too small to say anything about throughput: ignored
    rates.learn("upload", 400 * MB, 0.1)  # too short: ignored
    rates.save()
    again = Rates.load("prod")
    assert again.rate("upload") == (200 * MB, 1)
    again.learn("upload", 400 * MB, 4.0)  # 100 MB/s: the average moves halfway
    assert again.rate("upload") == (150 * MB, 2)
    assert Rates.load("staging").rate("upload") == (DEFAULT_RATES["upload"], 0)
    p = again.predict("upload", [300 * MB], parallel=True)
    assert (
        p is not None
        and p.seconds == pytest.approx(2.0)
        and "2 earlier measurements" in p.describe()
    )


def test_an_unreadable_rates_file_falls_back_to_the_defaults(tmp_path: Path) -> None:
    rates = Rates("prod")
    rates.learn("upload", 400 * MB, 2.0)
    rates.save()
    path = Path(__import__("os").environ["ETCDOPS_HOME"]) / ".etcdops" / "rates.json"
    path.write_text("[not a mapping")
    assert Rates.load("prod").rate("upload") == (DEFAULT_RATES["upload"], 0)


def test_the_restore_plan_predicts_its_copy_and_restore(tmp_path: Path) -> None:
    inv = lab_inventory()
    snap = tmp_path / "snap.db"
    with open(snap, "wb") as fh:
        fh.truncate(600 * MB)  # sparse: only its size matters here
    plan = plan_for(inv, "restore", [f"snapshot={snap}"], facts=lab_facts(inv))
    copy, restore = plan.step("Copy the snapshot"), plan.step("Restore into a fresh directory")
    assert copy.predicted is not None and copy.predicted.bytes == 600 * MB
    assert copy.predicted.seconds == pytest.approx(600 * MB / DEFAULT_RATES["upload"])
    assert restore.predicted is not None and restore.predicted.bytes == 600 * MB
    assert plan.step("Start etcd").predicted is None  # nothing to size: not predicted
    d = plan_dict(plan)
    assert d["predicted_seconds"] == pytest.approx(
        copy.predicted.seconds + restore.predicted.seconds, abs=0.2
    )
    text = plan_text(plan)
    assert "DURATION: the long steps' work is expected to take ~" in text
    assert f"expected: ~{600 * MB / DEFAULT_RATES['upload']:.0f}s (600.0 MiB at 100.0 MiB/s" in text


def test_defragmentation_is_predicted_from_the_size_in_use() -> None:
    inv = lab_inventory()
    plan = plan_for(inv, "compact-defrag", ["rule=always"], facts=lab_facts(inv))
    defrag = next(s for s in plan.steps if s.kind == "etcd_defrag" and not s.skipped)
    assert defrag.predicted is not None
    # lab_facts: each member has 900 bytes in use; serial, one member at a time
    assert defrag.predicted.bytes == 900 * len(defrag.actions)
