"""`drill_result`: the verdict of a restore drill, once its throwaway cluster is stopped.

Reads the record `etcd_drill_verify` wrote for this run beside the snapshot and fails the run
unless it says the snapshot was proven; the failed checks are the error. Kept apart from the
verification so that the drill cluster is always stopped and moved aside first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops import catalog
from etcdops.errors import StepFailed
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class ResultSpec:
    snapshot: str = spec_field("the snapshot on the control node the drill restored")


@dataclass(frozen=True, kw_only=True)
class ResultAction(Action):
    record: str


class DrillResultKind(StepKind[ResultSpec, ResultAction]):
    name = "drill_result"
    summary = "fail the run unless this run's restore drill proved the snapshot (its record)"
    Spec = ResultSpec
    shorthand = "snapshot"
    default_target = "control"

    def plan(self, spec: ResultSpec, ctx: StepContext) -> ResultAction:
        path = Path(spec.snapshot)
        record = path.with_name(path.name.removesuffix(".db") + catalog.DRILL)
        return ResultAction(
            intent=f"read this run's drill record {record}: the run fails unless it says proven",
            record=str(record),
        )

    def execute(self, action: ResultAction, ex: ExecContext) -> Outcome:
        record = catalog.read_small_json(Path(action.record))
        if record.get("run") != ex.info.id:
            raise StepFailed(ex.step, ex.host, f"{action.record} holds no record of this run")
        found = record.get("checks")
        checks: dict[str, Any] = found if isinstance(found, dict) else {}
        failed = [
            f"{name}: {c.get('detail')}"
            for name, c in checks.items()
            if isinstance(c, dict) and c.get("ok") is False
        ]
        unchecked = [
            f"{name}: {c.get('detail')}"
            for name, c in checks.items()
            if isinstance(c, dict) and c.get("ok") is None
        ]
        if record.get("proven") is not True:
            raise StepFailed(
                ex.step,
                ex.host,
                "the drill did NOT prove the snapshot: " + "; ".join(failed or unchecked),
            )
        proven = [name for name, c in checks.items() if isinstance(c, dict) and c.get("ok")]
        detail = f"proven: {', '.join(proven)}" + (
            f"; not checked: {'; '.join(unchecked)}" if unchecked else ""
        )
        return Outcome.ok(detail, report={"proven": True, "checks": checks})
