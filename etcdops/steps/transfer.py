"""`upload` / `download`: copy a file between the control node and the host, sha256 checked.

The copy goes to FILE.part and is renamed into place once its sha256 matches, so a copy cut
short is never taken for a complete one; a second run finds the file already there (ok).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from etcdops.commands import sh
from etcdops.context import sha256_file
from etcdops.errors import EtcdopsError, StepFailed, TransferError
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, Write, mb
from etcdops.steps.files import remote_sha256
from etcdops.steps.spec import spec_field

PROGRESS_EVERY = 5.0  # s between notes on a long copy


@dataclass(frozen=True)
class UploadSpec:
    src: str = spec_field("a file on the control node")
    dest: str = spec_field("the path on the host")
    mode: str | None = spec_field("file mode, e.g. '0600'", None)


@dataclass(frozen=True)
class DownloadSpec:
    src: str = spec_field("a file on the host")
    dest: str = spec_field("the path on the control node")


@dataclass(frozen=True, kw_only=True)
class UploadAction(Action):
    src: str
    dest: str
    mode: str | None = None

    def describe(self) -> list[str]:
        return [f"upload {self.src} -> {self.dest} (sha256 verified)"]


@dataclass(frozen=True, kw_only=True)
class DownloadAction(Action):
    src: str
    dest: str

    def describe(self) -> list[str]:
        return [f"download {self.src} -> {self.dest} (sha256 verified)"]


class TransferProgress:
    """Notes on a long copy, at most one per `every` seconds: how much, of how much, how fast."""

    def __init__(
        self,
        verb: str,
        note: Callable[[str], None],
        every: float = PROGRESS_EVERY,
        clock: Callable[[], float] = time.monotonic,
        check_stop: Callable[[], None] = lambda: None,
    ) -> None:
        self.verb, self.note, self.every, self.clock, self.check_stop = (
            verb,
            note,
            every,
            clock,
            check_stop,
        )
        self.start = self.last = clock()

    def __call__(self, done: int, total: int) -> None:
        self.check_stop()  # a stop request ends a copy between two chunks (the .part stays)
        now = self.clock()
        if now - self.last < self.every or not total or done >= total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        self.note(f"{self.verb} {mb(done)} of {mb(total)} ({done / total:.0%}, {mb(rate)}/s)")


class UploadKind(StepKind[UploadSpec, UploadAction]):
    name = "upload"
    summary = "copy a file from the control node to the hosts (via .part, sha256 verified)"
    Spec = UploadSpec
    default_timeout = 300.0
    heartbeat = False  # the copy notes its own progress

    def plan(self, spec: UploadSpec, ctx: StepContext) -> UploadAction:
        src, dest = spec.src.strip(), spec.dest.strip()
        size = os.path.getsize(src) if os.path.isfile(src) else 0
        return UploadAction(
            intent=f"upload {src} -> {dest}",
            src=src,
            dest=dest,
            mode=spec.mode,
            writes=(Write(ctx.host, dest, size, f"a copy of {os.path.basename(src)}"),),
            work=size,
        )

    def execute(self, action: UploadAction, ex: ExecContext) -> Outcome:
        return upload(ex, action.src, action.dest, action.mode)


class DownloadKind(StepKind[DownloadSpec, DownloadAction]):
    name = "download"
    summary = "copy a file from a host to the control node (via .part, sha256 verified)"
    Spec = DownloadSpec
    default_timeout = 300.0
    heartbeat = False

    def plan(self, spec: DownloadSpec, ctx: StepContext) -> DownloadAction:
        return DownloadAction(
            intent=f"download {spec.src} -> {spec.dest}",
            src=spec.src.strip(),
            dest=spec.dest.strip(),
        )

    def execute(self, action: DownloadAction, ex: ExecContext) -> Outcome:
        return download(ex, action.src, action.dest)


def upload(ex: ExecContext, src: str, dest: str, mode: str | None = None) -> Outcome:
    if not os.path.isfile(src):
        raise StepFailed(ex.step, ex.host, f"cannot read {src} on the control node")
    if files.stat(ex, dest)[
        dest
    ].exists:  # a run resumed after its copy: compare, copy only if it differs
        there = remote_sha256(ex, dest)
        local = sha256_file(src)
        if there == local:
            return Outcome.ok(f"{dest} already has sha256 {local[:12]}")
    part = dest + ".part"
    started = time.monotonic()
    try:
        copied = ex.transport.stream_put(
            src, part, ex.remaining(), TransferProgress("sent", ex.note, check_stop=ex.check_stop)
        )
    except TransferError as exc:
        ex.run(
            sh("rm", "-f", "--", part), check=False
        )  # a partial copy is never left to be taken for one
        raise StepFailed(
            ex.step,
            ex.host,
            f"cannot write {part}: {exc.reason}{_room(ex, dest, src)}; the partial "
            "copy was removed",
        ) from None
    if copied.remote_sha256 != copied.local_sha256:
        ex.run(sh("rm", "-f", "--", part), check=False)
        raise StepFailed(
            ex.step,
            ex.host,
            f"sha256 mismatch for {dest}: sent {copied.local_sha256[:12]}, "
            f"host wrote {copied.remote_sha256[:12] or 'nothing'}",
        )
    if mode:
        ex.run(sh("chmod", mode, part))
    ex.run(sh("mv", "-f", "--", part, dest))
    took = time.monotonic() - started
    return Outcome.changed(
        f"{dest} sha256 {copied.local_sha256[:12]} verified on both ends "
        f"({mb(copied.bytes)} in {took:.1f}s, {mb(copied.bytes / max(took, 1e-6))}/s)",
        report={"copied_bytes": copied.bytes, "seconds": round(took, 3)},
    )


def _room(ex: ExecContext, dest: str, src: str) -> str:
    """What the destination's filesystem has free, when a copy failed (SFTP reports a full disk only
    as "Failure")."""
    from etcdops.facts.disk import df_command, human, parse_df

    try:
        fs = parse_df(ex.run(df_command([dest]), check=False).stdout).get(dest)
    except EtcdopsError:
        return ""
    if fs is None:
        return ""
    size = os.path.getsize(src) if os.path.isfile(src) else 0
    full = " (no space left on the device)" if fs.free < size else ""
    return (
        f"{full}: {fs.mount} on {ex.host} has {human(fs.free)} free, the copy needs {human(size)}"
    )


def download(ex: ExecContext, src: str, dest_path: str, want: str = "") -> Outcome:
    """Copy to the control node; `want`, when known, is the sha256 the file must have."""
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():  # a run resumed after its copy
        want = want or remote_sha256(ex, src)
        if want and sha256_file(str(dest)) == want:
            return Outcome.ok(f"{dest} already has sha256 {want[:12]}")
    part = dest.with_name(dest.name + ".part")
    started = time.monotonic()
    try:
        copied = ex.transport.stream_get(
            src,
            str(part),
            ex.remaining(),
            TransferProgress("received", ex.note, check_stop=ex.check_stop),
        )
    except TransferError as exc:
        part.unlink(missing_ok=True)
        raise StepFailed(
            ex.step,
            "control",
            f"cannot write {part} on the control node: {exc.reason}; the partial copy was removed",
        ) from None
    if copied.local_sha256 != copied.remote_sha256 or (want and copied.remote_sha256 != want):
        part.unlink(missing_ok=True)
        raise StepFailed(
            ex.step,
            ex.host,
            f"sha256 mismatch for {dest}: host read {copied.remote_sha256[:12]}, "
            f"copy has {copied.local_sha256[:12]}" + (f", expected {want[:12]}" if want else ""),
        )
    part.rename(dest)
    took = time.monotonic() - started
    return Outcome.changed(
        f"{dest} sha256 {copied.local_sha256[:12]} verified on both ends "
        f"({mb(copied.bytes)} in {took:.1f}s, {mb(copied.bytes / max(took, 1e-6))}/s)",
        report={
            "copied_bytes": copied.bytes,
            "seconds": round(took, 3),
            "sha256": copied.local_sha256,
        },
    )
