"""`playbook`: run an Ansible playbook from playbooks/ on the step's hosts (ansible-runner)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from etcdops import paths
from etcdops.errors import Interrupted, RunbookError
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.transport.ansible import check_result, run_playbook


@dataclass(frozen=True)
class PlaybookSpec:
    name: str = spec_field("a playbook file in playbooks/")
    extravars: dict[str, Any] = spec_field("extra variables", factory=dict)


@dataclass(frozen=True, kw_only=True)
class PlaybookAction(Action):
    playbook: str
    extravars: Mapping[str, Any] = field(default_factory=dict)
    limit: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        extra = f" with {dict(self.extravars)}" if self.extravars else ""
        return [f"ansible-playbook {self.playbook} --limit {','.join(self.limit)}{extra}"]


class PlaybookKind(StepKind[PlaybookSpec, PlaybookAction]):
    name = "playbook"
    summary = "run an Ansible playbook from playbooks/ on the step's hosts (ansible-runner)"
    Spec = PlaybookSpec
    shorthand = "name"
    default_timeout = 900.0

    def validate(self, raw: Any, file: str, line: int) -> dict[str, Any]:
        checked = super().validate(raw, file, line)
        if "/" in str(checked["name"]) or ".." in str(checked["name"]):
            raise RunbookError(file, line, "playbook.name is a file name in playbooks/, not a path")
        return checked

    def plan(self, spec: PlaybookSpec, ctx: StepContext) -> PlaybookAction:
        path = ctx.playbooks_dir / spec.name
        if not path.is_file():
            raise ctx.error(f"playbook {path} does not exist")
        extravars = {str(k): v for k, v in spec.extravars.items()}
        return PlaybookAction(
            intent=f"run playbook {spec.name} on {ctx.host}",
            playbook=str(path),
            extravars=extravars,
            limit=(ctx.host,),
        )

    def execute(self, action: PlaybookAction, ex: ExecContext) -> Outcome:
        assert ex.inventory is not None
        result = run_playbook(
            ex.inventory.path,
            action.playbook,
            action.limit,
            action.extravars,
            ex.remaining(),
            ex.note,
            # a playbook of an earlier attempt of this run that still runs is waited for
            pidfile=paths.run_dir(ex.info.id) / "playbook.pid",
            stop_reason=ex.stop_reason,
            on_progress=ex.progress_note,
            on_task=ex.live,
        )
        if result.status == "canceled" and ex.stop_reason():
            raise Interrupted(f"{ex.stop_reason()}; the playbook was stopped")
        check_result(result, action.playbook)
        if result.changed:
            return Outcome.changed(f"{result.changed} changed")
        return Outcome.ok("nothing changed")
