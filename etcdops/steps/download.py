"""`download`: a file from a host to the control node, verified by sha256."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.copying import download, download_reads
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class DownloadSpec:
    src: str = spec_field("a file on the host")
    dest: str = spec_field("the path on the control node")


@dataclass(frozen=True, kw_only=True)
class DownloadAction(Action):
    src: str
    dest: str

    def describe(self) -> list[str]:
        head, *rest = super().describe()
        return [f"{head} (sha256 verified on both ends)", *rest]


class DownloadKind(StepKind[DownloadSpec, DownloadAction]):
    name = "download"
    summary = "copy a file from a host to the control node (via .part, sha256 verified)"
    Spec = DownloadSpec
    default_timeout = 300.0
    heartbeat = False

    def plan(self, spec: DownloadSpec, ctx: StepContext) -> DownloadAction:
        return DownloadAction(
            intent=f"download {spec.src} -> {spec.dest}",
            reads=download_reads(spec.src.strip()),
            src=spec.src.strip(),
            dest=spec.dest.strip(),
        )

    def execute(self, action: DownloadAction, ex: ExecContext) -> Outcome:
        return download(ex, action.src, action.dest)
