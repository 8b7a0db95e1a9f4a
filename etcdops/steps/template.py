"""`template`: render a jinja2 template to a file on the host; the plan shows the diff.

The template sees ``current``: the file's present content (or none), so a template can
rewrite some lines and keep the rest (``current | env_update({...})``). The file is written
atomically (a temporary file beside it, owner and mode kept, renamed into place) and the
previous one is kept as FILE.bak-STAMP.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from etcdops.commands import AND, Command, sh
from etcdops.errors import PlanStale, RunbookError
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, unified_diff
from etcdops.steps.files import remote_sha256, sha256_command
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class TemplateSpec:
    dest: str = spec_field("the file on the host")
    src: str | None = spec_field("a template file beside the runbook", None)
    content: str | None = spec_field("the template itself (instead of src)", None)
    mode: str | None = spec_field("file mode, e.g. '0644' (default: the current file's)", None)
    backup: bool = spec_field(
        "keep the file as it was as FILE.bak-STAMP (off for a second write of the same file "
        "in a run: the first one's backup is the rollback)",
        True,
    )


@dataclass(frozen=True, kw_only=True)
class WriteFileAction(Action):
    path: str
    content: str = field(repr=False)
    diff: str
    mode: str | None = None
    base_sha256: str = ""  # of the content the diff was made against ("" = no file)
    tmp: str = ""  # the new content is copied here first, then renamed over path
    backup: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def describe(self) -> list[str]:
        if not self.diff:
            return [f"write {self.path}: no change"]
        _intent, *commands = super().describe()
        copy = f"  (the new content copied to {self.tmp} first)"
        return [f"write {self.path}:", *self.diff.rstrip("\n").splitlines(), copy, *commands]


class TemplateKind(StepKind[TemplateSpec, WriteFileAction]):
    name = "template"
    summary = "write a file from a template (plan shows the diff; previous file kept as .bak-STAMP)"
    Spec = TemplateSpec
    default_timeout = 30.0

    def validate(self, raw: Any, file: str, line: int) -> dict[str, Any]:
        checked = super().validate(raw, file, line)
        if ("src" in checked) == ("content" in checked):
            raise RunbookError(
                file, line, "'template' needs exactly one of 'src' (a file) or 'content'"
            )
        return checked

    def spec(self, raw: Mapping[str, Any], ctx: StepContext) -> TemplateSpec:
        # content is the template itself: rendered by plan() with `current`, not here
        return TemplateSpec(
            dest=ctx.text(str(raw["dest"])).strip(),
            src=ctx.text(str(raw["src"])).strip() if raw.get("src") is not None else None,
            content=str(raw["content"]) if raw.get("content") is not None else None,
            mode=str(raw["mode"]) if raw.get("mode") is not None else None,
            backup=bool(
                ctx.native(raw["backup"])
                if isinstance(raw.get("backup"), str)
                else raw.get("backup", True)
            ),
        )

    def plan(self, spec: TemplateSpec, ctx: StepContext) -> WriteFileAction:
        # `current`: the file as this plan's earlier steps leave it; `original`: as it is now
        current = ctx.probe.read(ctx.host, spec.dest)
        original = ctx.original(ctx.host, spec.dest) if ctx.original else current
        variables = {**ctx.variables, "current": current, "original": original}
        if spec.src is not None:
            src = ctx.runbook_dir / spec.src
            try:
                source = src.read_text()
            except OSError as exc:
                raise ctx.error(f"template {src}: {exc.strerror}") from None
            content = replace(ctx, file=str(src), line=1, variables=variables).text(source)
        else:
            assert spec.content is not None
            content = replace(ctx, variables=variables).text(spec.content)
        base = hashlib.sha256(current.encode()).hexdigest() if current is not None else ""
        tmp = f"{spec.dest}.etcdops-{ctx.run.stamp}.tmp"
        backup = f"{spec.dest}.bak-{ctx.run.stamp}" if spec.backup else ""
        exists = current is not None
        return WriteFileAction(
            intent=f"write {spec.dest}",
            commands=write_commands(spec.dest, tmp, backup, spec.mode, exists),
            reads=(sha256_command(spec.dest),),
            tmp=tmp,
            backup=backup,
            path=spec.dest,
            content=content,
            diff=unified_diff(spec.dest, current, content),
            mode=spec.mode,
            base_sha256=base,
        )

    def execute(self, action: WriteFileAction, ex: ExecContext) -> Outcome:
        current = remote_sha256(ex, action.path)
        wanted = hashlib.sha256(action.content.encode()).hexdigest()
        if current == wanted:
            return Outcome.ok("already has the planned content")
        if current != action.base_sha256:
            raise PlanStale(f"{ex.host}: {action.path} changed since the plan was made; plan again")
        with tempfile.NamedTemporaryFile("w", delete=False) as fh:
            fh.write(action.content)
        try:
            ex.transport.put(fh.name, action.tmp, ex.remaining())
        finally:
            os.unlink(fh.name)
        for command in action.commands:
            ex.run(command)
        if action.base_sha256 and action.backup:
            return Outcome.changed(f"wrote {action.path} (previous kept as {action.backup})")
        return Outcome.changed(f"wrote {action.path}")


def write_commands(
    path: str, tmp: str, backup: str, mode: str | None, exists: bool
) -> tuple[Command, ...]:
    """What writing the file runs once the new content is on the host as tmp: the new file gets the
    old one's owner and mode and the old one is kept as backup (when there is one and a backup is
    asked), the mode asked is set, both are on disk before the rename (the backup is the rollback;
    a crash must not leave an empty file), then the rename itself (its directory)."""
    keep: list[Command] = []
    if exists:
        owner = ("chown", f"--reference={path}", tmp, AND, "chmod", f"--reference={path}", tmp)
        copy = (AND, "cp", "-p", path, backup) if backup else ()
        keep.append(sh(*owner, *copy))
    if mode:
        keep.append(sh("chmod", mode, tmp))
    synced = sh("sync", "--", tmp, *([backup] if exists and backup else []))
    rename = sh("mv", "-f", tmp, path, AND, "sync", "--", posixpath.dirname(path) or ".")
    return (*keep, synced, rename)
