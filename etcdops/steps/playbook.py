"""`playbook`: run an Ansible playbook from playbooks/ on the step's hosts (ansible-runner)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etcdops.errors import RunbookError
from etcdops.steps.base import Action, PlaybookAction, StepContext, require_mapping

DEFAULT_TARGET = "all"
DEFAULT_TIMEOUT = 900.0


def validate(spec: Any, file: str, line: int) -> dict[str, Any]:
    checked = require_mapping(spec, file, line, "playbook", {"name", "extravars"}, {"name"}, shorthand="name")
    if "/" in str(checked["name"]) or ".." in str(checked["name"]):
        raise RunbookError(file, line, "playbook.name is a file name in playbooks/, not a path")
    return checked


def plan(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    path = ctx.playbooks_dir / str(spec["name"])
    if not path.is_file():
        raise RunbookError(ctx.file, ctx.line, f"playbook {path} does not exist")
    extravars = {str(k): ctx.text(str(v)) for k, v in (spec.get("extravars") or {}).items()}
    return PlaybookAction(playbook=str(path), extravars=extravars, limit=(ctx.host,))
