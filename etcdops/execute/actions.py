"""How each kind of planned action is carried out on one host. Used by the runner."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from etcdops.context import sha256_file
from etcdops.errors import CommandFailed, PlanStale, StepFailed
from etcdops.steps.base import DownloadAction, RunAction, UploadAction, WriteFileAction
from etcdops.transport import Result, Transport

TAIL_LINES = 15
PROGRESS_EVERY = 5.0  # s between notes on a long copy
HEARTBEAT_EVERY = 15.0  # s between "still running" notes on a long command


@dataclass
class Outcome:
    status: str  # ok | changed | skipped
    detail: str = ""


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_command(transport: Transport, action: RunAction, timeout: float) -> Outcome:
    if action.unless is not None:
        probe = transport.run(action.unless.text, timeout)
        if probe.ok:
            return Outcome("skipped", f"already done ({action.unless.display} succeeded)")
    result = transport.run(action.command.text, timeout)
    check(transport.name, action.command.display, result)
    return Outcome("changed", result.stdout.rstrip() if action.show else tail(result.stdout, 5))


@contextlib.contextmanager
def heartbeat(note: Callable[[str], None], timeout: float, every: float = HEARTBEAT_EVERY) -> Iterator[None]:
    """While the block runs, note every `every` seconds how long it has been running (a snapshot save,
    a restore or a defragmentation of a large database takes minutes: the log shows it is alive)."""
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(every):
            note(f"still running after {time.monotonic() - start:.0f}s (the step's timeout is {timeout:g}s)")

    thread = threading.Thread(target=beat, name="etcdops-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every)


def check(host: str, display: str, result: Result) -> None:
    if not result.ok:
        raise CommandFailed(host, display, result.exit_code, tail(result.stderr or result.stdout))


def remote_sha256(transport: Transport, path: str, timeout: float) -> str:
    result = transport.run(f"sha256sum {shlex.quote(path)} 2>/dev/null || true", timeout)
    return result.stdout.split()[0] if result.stdout.strip() else ""


def write_file(transport: Transport, action: WriteFileAction, timeout: float, stamp: str) -> Outcome:
    """Write atomically: temp file beside it, owner/mode kept, old file kept as .bak-STAMP."""
    current = remote_sha256(transport, action.path, timeout)
    wanted = hashlib.sha256(action.content.encode()).hexdigest()
    if current == wanted:
        return Outcome("skipped", "already has the planned content")
    if current != action.base_sha256:
        raise PlanStale(f"{transport.name}: {action.path} changed since the plan was made; plan again")
    tmp_remote = f"{action.path}.etcdops-{stamp}.tmp"
    with tempfile.NamedTemporaryFile("w", delete=False) as fh:
        fh.write(action.content)
    try:
        transport.put(fh.name, tmp_remote, timeout)
    finally:
        os.unlink(fh.name)
    p, t = shlex.quote(action.path), shlex.quote(tmp_remote)
    script = [f"if [ -e {p} ]; then chown --reference={p} {t} && chmod --reference={p} {t} "
              f"&& cp -p {p} {shlex.quote(action.path + '.bak-' + stamp)}; fi"]
    if action.mode:
        script.append(f"chmod {shlex.quote(action.mode)} {t}")
    script.append(f"mv -f {t} {p}")
    result = transport.run(" && ".join(script), timeout)
    check(transport.name, f"install {action.path}", result)
    return Outcome("changed", f"wrote {action.path} (previous kept as {action.path}.bak-{stamp})"
                   if action.base_sha256 else f"wrote {action.path}")


class TransferProgress:
    """Notes on a long copy, at most one per `every` seconds: how much, of how much, how fast."""

    def __init__(self, verb: str, note: Callable[[str], None], every: float = PROGRESS_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.verb, self.note, self.every, self.clock = verb, note, every, clock
        self.start = self.last = clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now - self.last < self.every or not total or done >= total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        self.note(f"{self.verb} {_mb(done)} of {_mb(total)} ({done / total:.0%}, {_mb(rate)}/s)")


def _mb(size: float) -> str:
    return f"{size / 2**20:.1f} MB"


def upload(transport: Transport, action: UploadAction, timeout: float,
           note: Callable[[str], None] = lambda _m: None) -> Outcome:
    local_sha = sha256_file(action.src)
    if not local_sha:
        raise StepFailed("upload", transport.name, f"cannot read {action.src} on the control node")
    if remote_sha256(transport, action.dest, timeout) == local_sha:
        return Outcome("skipped", f"{action.dest} already has sha256 {local_sha[:12]}")
    part = action.dest + ".part"
    transport.put(action.src, part, timeout, TransferProgress("sent", note))
    got = remote_sha256(transport, part, timeout)
    if got != local_sha:
        transport.run(f"rm -f {shlex.quote(part)}", timeout)
        raise StepFailed("upload", transport.name, f"sha256 mismatch for {action.dest}: "
                         f"sent {local_sha[:12]}, host has {got[:12] or 'nothing'}")
    mode = f"chmod {shlex.quote(action.mode)} {shlex.quote(part)} && " if action.mode else ""
    check(transport.name, f"mv {part} {action.dest}",
          transport.run(f"{mode}mv -f {shlex.quote(part)} {shlex.quote(action.dest)}", timeout))
    return Outcome("changed", f"{action.dest} sha256 {local_sha[:12]} verified")


def download(transport: Transport, action: DownloadAction, timeout: float,
             note: Callable[[str], None] = lambda _m: None) -> Outcome:
    want = remote_sha256(transport, action.src, timeout)
    if not want:
        raise StepFailed("download", transport.name, f"{action.src} does not exist or is unreadable")
    dest = Path(action.dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and sha256_file(str(dest)) == want:
        return Outcome("skipped", f"{dest} already has sha256 {want[:12]}")
    part = dest.with_name(dest.name + ".part")
    transport.get(action.src, str(part), timeout, TransferProgress("received", note))
    got = sha256_file(str(part))
    if got != want:
        part.unlink(missing_ok=True)
        raise StepFailed("download", transport.name,
                         f"sha256 mismatch for {dest}: host {want[:12]}, copy {got[:12]}")
    part.rename(dest)
    return Outcome("changed", f"{dest} sha256 {want[:12]} verified")


def with_retries(fn: Callable[[], Outcome], attempts: int, on: tuple[str, ...], delay: float,
                 backoff: float, max_delay: float, deadline: float,
                 note: Callable[[str], None]) -> Outcome:
    """Retry fn while it fails with one of the named transient errors, bounded in count and time."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except CommandFailed as exc:
            transient = any(marker in exc.stderr_tail for marker in on)
            wait = min(max_delay, delay * backoff ** (attempt - 1))
            if not transient or attempt == attempts or time.monotonic() + wait > deadline:
                raise
            note(f"attempt {attempt}/{attempts} failed ({exc.stderr_tail.splitlines()[-1][:120]}); "
                 f"retrying in {wait:.1f}s")
            time.sleep(wait)
    raise AssertionError("unreachable")
