"""Copies between the control node and a host for the step kinds: sha256 on both ends as it streams,
a .part renamed when complete, progress every few seconds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from etcdops import units
from etcdops.commands import Command, sh
from etcdops.errors import EtcdopsError, StepFailed, TransferError
from etcdops.facts.disk import df_command, parse_df
from etcdops.snapshots import sha256_file
from etcdops.steps import files
from etcdops.steps.base import ExecContext, Outcome
from etcdops.steps.files import remote_sha256

PROGRESS_EVERY = 5.0  # s between notes on a long copy
BAR_EVERY = 0.1  # s between the bytes handed to a live display


class TransferProgress:
    """Notes on a long copy, at most one per `every` seconds: how much, of how much, how fast; and
    the bytes so far for a live display's bar (`bar`), at most one call per BAR_EVERY seconds."""

    def __init__(
        self,
        verb: str,
        note: Callable[[str], None],
        every: float = PROGRESS_EVERY,
        clock: Callable[[], float] = time.monotonic,
        check_stop: Callable[[], None] = lambda: None,
        bar: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.verb, self.note, self.every, self.clock, self.check_stop = (
            verb,
            note,
            every,
            clock,
            check_stop,
        )
        self.bar = bar
        self.start = self.last = self.last_bar = clock()

    def __call__(self, done: int, total: int) -> None:
        self.check_stop()  # a stop request ends a copy between two chunks (the .part stays)
        now = self.clock()
        if self.bar is not None and (now - self.last_bar >= BAR_EVERY or done >= total):
            self.last_bar = now
            self.bar(self.verb, done, total)
        if now - self.last < self.every or not total or done >= total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        share = f"{done / total:.0%}, {units.rate(rate)}"
        self.note(f"{self.verb} {units.size(done)} of {units.size(total)} ({share})")


def upload_commands(dest: str, mode: str | None) -> tuple[Command, ...]:
    """What an upload runs on the host besides the copy: a failed copy's .part removed, the mode
    set, the .part renamed into place."""
    part = dest + ".part"
    chmod = (sh("chmod", mode, part),) if mode else ()
    return (sh("rm", "-f", "--", part), *chmod, sh("mv", "-f", "--", part, dest))


def upload_reads(dest: str) -> tuple[Command, ...]:
    """What an upload reads on the host: whether dest is there with the same bytes already (a
    resumed run), and its filesystem's free space when a copy failed."""
    return (files.stat_command(dest), files.sha256_command(dest), df_command([dest]))


def download_reads(src: str) -> tuple[Command, ...]:
    return (files.sha256_command(src),)


def upload(ex: ExecContext, src: str, dest: str, mode: str | None = None) -> Outcome:
    if not os.path.isfile(src):
        raise StepFailed(ex.step, ex.host, f"cannot read {src} on the control node")
    remove_part, *rest = upload_commands(dest, mode)
    chmod, into_place = (rest[0], rest[1]) if mode else (None, rest[0])
    if files.stat(ex, dest)[dest].exists:  # a run resumed after its copy: copy only if it differs
        there = remote_sha256(ex, dest)
        local = sha256_file(src)
        if there == local:
            return Outcome.ok(f"{dest} already has sha256 {local[:12]}")
    part = dest + ".part"
    started = time.monotonic()
    try:
        copied = ex.transport.stream_put(
            src,
            part,
            ex.remaining(),
            TransferProgress("sent", ex.progress_note, check_stop=ex.check_stop, bar=ex.transfer),
        )
    except TransferError as exc:
        ex.run(remove_part, check=False)  # a partial copy is never left to be taken for one
        raise StepFailed(
            ex.step,
            ex.host,
            f"cannot write {part}: {exc.reason}{_free_space_note(ex, dest, src)}; the partial "
            "copy was removed",
        ) from None
    if copied.remote_sha256 != copied.local_sha256:
        ex.run(remove_part, check=False)
        raise StepFailed(
            ex.step,
            ex.host,
            f"sha256 mismatch for {dest}: sent {copied.local_sha256[:12]}, "
            f"host wrote {copied.remote_sha256[:12] or 'nothing'}",
        )
    if chmod is not None:
        ex.run(chmod)
    ex.run(into_place)
    took = time.monotonic() - started
    return Outcome.changed(
        f"{dest} sha256 {copied.local_sha256[:12]} verified on both ends "
        f"({units.size(copied.bytes)} in {took:.1f}s, "
        f"{units.rate(copied.bytes / max(took, 1e-6))})",
        report={"copied_bytes": copied.bytes, "seconds": round(took, 3)},
    )


def _free_space_note(ex: ExecContext, dest: str, src: str) -> str:
    """What the destination's filesystem has free, when a copy failed (SFTP reports a full disk only
    as "Failure")."""

    try:
        fs = parse_df(ex.run(df_command([dest]), check=False).stdout).get(dest)
    except EtcdopsError:
        return ""
    if fs is None:
        return ""
    size = os.path.getsize(src) if os.path.isfile(src) else 0
    full = " (no space left on the device)" if fs.free < size else ""
    free = units.size(fs.free)
    return f"{full}: {fs.mount} on {ex.host} has {free} free, the copy needs {units.size(size)}"


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
            TransferProgress(
                "received", ex.progress_note, check_stop=ex.check_stop, bar=ex.transfer
            ),
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
        f"({units.size(copied.bytes)} in {took:.1f}s, "
        f"{units.rate(copied.bytes / max(took, 1e-6))})",
        report={
            "copied_bytes": copied.bytes,
            "seconds": round(took, 3),
            "sha256": copied.local_sha256,
        },
    )
