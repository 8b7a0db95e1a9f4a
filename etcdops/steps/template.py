"""`template`: render a jinja2 template to a file on the host; the plan shows the diff.

The template sees ``current``: the file's present content (or none), so a template can
rewrite some lines and keep the rest (``current | env_update({...})``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from etcdops.errors import RunbookError
from etcdops.steps.base import Action, StepContext, WriteFileAction, require_mapping, unified_diff

DEFAULT_TARGET = "all"
DEFAULT_TIMEOUT = 30.0


def validate(spec: Any, file: str, line: int) -> dict[str, Any]:
    checked = require_mapping(spec, file, line, "template", {"src", "content", "dest", "mode"}, {"dest"})
    if ("src" in checked) == ("content" in checked):
        raise RunbookError(file, line, "'template' needs exactly one of 'src' (a file) or 'content'")
    return checked


def plan(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    dest = ctx.text(spec["dest"]).strip()
    current = ctx.files.read(ctx.host, dest)
    if "src" in spec:
        src = ctx.runbook_dir / ctx.text(spec["src"]).strip()
        try:
            source = src.read_text()
        except OSError as exc:
            raise RunbookError(ctx.file, ctx.line, f"template {src}: {exc.strerror}") from None
        sub = ctx.with_vars(current=current)
        sub.file = str(src)
        sub.line = 1
        content = sub.text(source)
    else:
        content = ctx.with_vars(current=current).text(spec["content"])
    mode = str(spec["mode"]) if spec.get("mode") is not None else None
    base = hashlib.sha256(current.encode()).hexdigest() if current is not None else ""
    return WriteFileAction(path=dest, content=content, diff=unified_diff(dest, current, content), mode=mode,
                           base_sha256=base)
