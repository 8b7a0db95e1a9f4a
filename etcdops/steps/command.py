"""`command`: run a shell command on the host; every {{ value }} is shell-quoted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etcdops.steps.base import Action, RunAction, StepContext, require_mapping

DEFAULT_TARGET = "all"
DEFAULT_TIMEOUT = 60.0


def validate(spec: Any, file: str, line: int) -> dict[str, Any]:
    return require_mapping(spec, file, line, "command", {"run", "unless", "show"}, {"run"}, shorthand="run")


def plan(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    unless = ctx.command(spec["unless"]) if spec.get("unless") else None
    return RunAction(command=ctx.command(spec["run"]), unless=unless, show=bool(spec.get("show")))
