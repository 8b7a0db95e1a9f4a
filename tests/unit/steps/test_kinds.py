"""Every step kind, case by case from tests/fixtures/steps/KIND.yml (pyinfra's style): the spec
and the facts in; the exact planned commands, the commands run on a scripted host and the
outcome (ok = already as wanted, nothing changed; changed; or the error) out."""

from __future__ import annotations

from typing import Any

import pytest

from etcdops.steps.registry import KINDS
from tests.unit.steps.harness import all_cases, kind_files, run_case

CASES = all_cases()


@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{k}: {c['case']}" for k, c in CASES])
def test_kind_case(kind: str, case: dict[str, Any]) -> None:
    run_case(kind, case)


NOT_ON_A_SCRIPTED_HOST = {
    "template",
    "upload",
    "download",
    "wait",
    "playbook",
    "pause",
    "command",
    "etcd_snapshot_save",
    "prune_snapshots",
    "snapshot_bundle",
    "snapshot_offsite",
    "snapshot_fetch",
    "drill_result",
}  # covered with real files in tests/unit and the lab


# restore always restores again into a fresh dir (an earlier attempt of the run is kept aside, as
# .interrupted-STAMP): a complete restore cannot be told from one cut short
# a drill's verification always writes its record of what was (and was not) proven
ALWAYS_ACTS = {"etcd_snapshot_restore", "etcd_drill_verify"}


def test_every_etcd_kind_has_fixtures_with_an_already_done_case() -> None:
    covered = set(kind_files())
    assert set(KINDS) - NOT_ON_A_SCRIPTED_HOST <= covered, (
        set(KINDS) - NOT_ON_A_SCRIPTED_HOST - covered
    )
    for kind in covered - ALWAYS_ACTS:
        statuses = {c.get("status") for k, c in CASES if k == kind}
        assert "ok" in statuses, f"{kind}: no case where the host is already as wanted"


def test_every_case_pins_its_plan_its_reads_and_what_ran() -> None:
    loose = [
        f"{kind}: {case['case']}"
        for kind, case in CASES
        if not case.get("error_at_load")
        and not case.get("error_at_plan")
        and not {"plan", "reads", "ran"} <= set(case)
    ]
    assert loose == []
