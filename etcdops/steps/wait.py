"""`wait`: poll the cluster's facts until an expression holds, bounded by a timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etcdops.errors import RunbookError
from etcdops.steps.base import Action, StepContext, WaitAction, require_mapping

DEFAULT_TARGET = "control"
DEFAULT_TIMEOUT = 120.0
MIN_INTERVAL = 0.2


def validate(spec: Any, file: str, line: int) -> dict[str, Any]:
    checked = require_mapping(spec, file, line, "wait", {"until", "interval", "message", "timeout", "progress"},
                              {"until"}, shorthand="until")
    if float(checked.get("interval", 1.0)) < MIN_INTERVAL:
        raise RunbookError(file, line, f"wait.interval must be at least {MIN_INTERVAL}s")
    return checked


def plan(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    timeout = ctx.text(str(spec.get("timeout", DEFAULT_TIMEOUT)))
    try:
        seconds = float(timeout)
    except ValueError:
        raise RunbookError(ctx.file, ctx.line, f"wait.timeout {timeout!r} is not a number") from None
    return WaitAction(until=str(spec["until"]), timeout=seconds,
                      interval=float(spec.get("interval", 1.0)),
                      message=ctx.text(str(spec.get("message", ""))), progress=str(spec.get("progress", "")))
