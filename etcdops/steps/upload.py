"""`upload`: a file from the control node to the hosts, verified by sha256."""

from __future__ import annotations

import os
from dataclasses import dataclass

from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, Write
from etcdops.steps.copying import upload, upload_commands, upload_reads
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class UploadSpec:
    src: str = spec_field("a file on the control node")
    dest: str = spec_field("the path on the host")
    mode: str | None = spec_field("file mode, e.g. '0600'", None)
    bytes: int = spec_field(
        "its size, for the disk check, when src is made by an earlier step of the run", 0, minimum=0
    )


@dataclass(frozen=True, kw_only=True)
class UploadAction(Action):
    src: str
    dest: str
    mode: str | None = None

    def describe(self) -> list[str]:
        head, *rest = super().describe()
        return [f"{head} (copied to {self.dest}.part, sha256 verified on both ends)", *rest]


class UploadKind(StepKind[UploadSpec, UploadAction]):
    name = "upload"
    summary = "copy a file from the control node to the hosts (via .part, sha256 verified)"
    Spec = UploadSpec
    default_timeout = 300.0
    heartbeat = False  # the copy notes its own progress

    def plan(self, spec: UploadSpec, ctx: StepContext) -> UploadAction:
        src, dest = spec.src.strip(), spec.dest.strip()
        size = os.path.getsize(src) if os.path.isfile(src) else spec.bytes
        return UploadAction(
            intent=f"upload {src} -> {dest}",
            commands=upload_commands(dest, spec.mode),
            reads=upload_reads(dest),
            src=src,
            dest=dest,
            mode=spec.mode,
            writes=(Write(ctx.host, dest, size, f"a copy of {os.path.basename(src)}"),),
            work=size,
        )

    def execute(self, action: UploadAction, ex: ExecContext) -> Outcome:
        return upload(ex, action.src, action.dest, action.mode)
