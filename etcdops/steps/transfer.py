"""`upload` / `download`: copy a file between the control node and the host, sha256 checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etcdops.steps.base import Action, DownloadAction, StepContext, UploadAction, require_mapping

DEFAULT_TARGET = "all"
DEFAULT_TIMEOUT = 300.0


def validate_upload(spec: Any, file: str, line: int) -> dict[str, Any]:
    return require_mapping(spec, file, line, "upload", {"src", "dest", "mode"}, {"src", "dest"})


def validate_download(spec: Any, file: str, line: int) -> dict[str, Any]:
    return require_mapping(spec, file, line, "download", {"src", "dest"}, {"src", "dest"})


def plan_upload(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    mode = str(spec["mode"]) if spec.get("mode") is not None else None
    return UploadAction(src=ctx.text(spec["src"]).strip(), dest=ctx.text(spec["dest"]).strip(), mode=mode)


def plan_download(spec: Mapping[str, Any], ctx: StepContext) -> Action:
    return DownloadAction(src=ctx.text(spec["src"]).strip(), dest=ctx.text(spec["dest"]).strip())


class Upload:
    DEFAULT_TARGET = DEFAULT_TARGET
    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT
    validate = staticmethod(validate_upload)
    plan = staticmethod(plan_upload)


class Download:
    DEFAULT_TARGET = DEFAULT_TARGET
    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT
    validate = staticmethod(validate_download)
    plan = staticmethod(plan_download)
