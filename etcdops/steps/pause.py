"""`pause`: ask the operator to confirm before going on; refused under --yes unless allowed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etcdops.steps.base import Action, PauseAction, StepContext, require_mapping

DEFAULT_TARGET = "control"
DEFAULT_TIMEOUT = 3600.0


def validate(spec: Any, file: str, line: int) -> dict[str, Any]:
    return require_mapping(spec, file, line, "pause", {"message", "allow_unattended"}, {"message"},
                           shorthand="message")


def plan(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    return PauseAction(message=ctx.text(str(spec["message"])),
                       allow_unattended=bool(spec.get("allow_unattended", False)))
