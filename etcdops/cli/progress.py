"""Live progress of a run on stderr: one line per step and host, a ticking line for waits."""

from __future__ import annotations

import sys
import threading
import time

from etcdops.plan import PlannedStep


class Progress:
    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._last_wait = 0.0

    def _write(self, text: str) -> None:
        if not self.tty:  # a log (CI): every line gets its UTC time
            stamp = time.strftime("%H:%M:%SZ ", time.gmtime())
            text = "".join(
                stamp + line if line.strip() else line for line in text.splitlines(keepends=True)
            )
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    def step_started(self, step: PlannedStep, total: int) -> None:
        hosts = ", ".join(step.hosts)
        self._write(f"[{step.index}/{total}] {step.name} ({hosts})\n")

    def host_done(
        self, step: PlannedStep, host: str, status: str, elapsed: float, detail: str
    ) -> None:
        lines = detail.strip().splitlines()
        first = lines[0] if lines else ""
        if status == "failed" or len(lines) > 1:
            if len(lines) > 1:
                first = "\n" + "\n".join("      " + line for line in lines)
            else:
                first = detail.strip()
        self._write(f"    {host}: {status} ({elapsed:.1f}s){' - ' + first if first else ''}\n")

    def note(self, step: PlannedStep, host: str, message: str) -> None:
        self._write(f"    {host}: {message}\n")

    def waiting(self, step: PlannedStep, elapsed: float, timeout: float, state: str) -> None:
        line = f"    waiting {elapsed:5.1f}s / {timeout:g}s: {state}"
        if self.tty:
            self._write(f"\r{line}\033[K")
        elif time.monotonic() - self._last_wait >= 5.0:
            self._last_wait = time.monotonic()
            self._write(line + "\n")

    def step_done(self, step: PlannedStep, status: str, elapsed: float) -> None:
        if self.tty:
            self._write("\r\033[K")
        self._write(f"    done in {elapsed:.1f}s\n")
