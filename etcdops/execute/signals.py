"""SIGTERM and SIGINT during a run: ask the runner to stop at the next safe point.

The first signal sets the stop request; the runner stops between steps and hosts at once, and
inside a step at its next safe point (waits, polls, retry delays, copies between chunks). A
remote command already running gets STOP_GRACE seconds to finish. The run is journaled as
interrupted and exits with ExitCode.INTERRUPTED, printing its --resume line.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class StopRequest:
    def __init__(self) -> None:
        self._reason: str | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        return self._reason

    def ask(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason


@contextlib.contextmanager
def stop_on_signals(request: StopRequest) -> Iterator[StopRequest]:
    """While inside, SIGTERM and SIGINT set the stop request instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        request.ask(f"{signal.Signals(signum).name} received")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
