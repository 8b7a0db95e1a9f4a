"""`pause`: ask the operator to confirm before going on; refused under --yes unless allowed."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.errors import Refused
from etcdops.steps.base import Action, ExecContext, HostStatus, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class PauseSpec:
    message: str = spec_field("what the operator confirms")
    allow_unattended: bool = spec_field("under --yes, go on without asking (else refused)", False)


@dataclass(frozen=True, kw_only=True)
class PauseAction(Action):
    message: str
    allow_unattended: bool

    def describe(self) -> list[str]:
        return [f"pause for confirmation: {self.message}"]


class PauseKind(StepKind[PauseSpec, PauseAction]):
    name = "pause"
    summary = "ask the operator to confirm (refused under --yes unless allow_unattended)"
    Spec = PauseSpec
    shorthand = "message"
    default_target = "control"
    default_timeout = 3600.0
    heartbeat = False

    def plan(self, spec: PauseSpec, ctx: StepContext) -> PauseAction:
        return PauseAction(
            intent=f"pause: {spec.message}",
            message=spec.message,
            allow_unattended=spec.allow_unattended,
        )

    def execute(self, action: PauseAction, ex: ExecContext) -> Outcome:
        if ex.assume_yes:
            if action.allow_unattended:
                return Outcome(HostStatus.SKIPPED, "unattended run: pause allowed by the runbook")
            raise Refused(
                f"this step pauses for an operator ({action.message}); it is refused under --yes"
            )
        if ex.confirm is None or not ex.confirm(action.message):
            raise Refused(f"operator declined: {action.message}")
        return Outcome.ok("confirmed by the operator")
