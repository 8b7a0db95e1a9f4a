"""Live progress of a run on stderr, in one of three forms chosen from the stream:

- not a terminal (CI logs, a file): one UTC-stamped line per step, host, note and tick (`Log`);
- a terminal with NO_COLOR (or TERM=dumb): the same lines unstamped and a status line redrawn in
  place with a carriage return only, cut to the terminal's width: no escape sequence (`Plain`);
- a terminal: colours, and one live region drawn by rich under the lines already printed, one row
  per running host (a spinner, or a bar with bytes, rate and time left for copies, by the predicted
  duration for snapshots, restores and defragmentations, by the timeout for waits), sized to the
  terminal on every redraw and never wider than it (`Live`).

All three take the runner's events (execute/runner.py: Events) from any thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from etcdops import units

if TYPE_CHECKING:
    from etcdops.plan import PlannedStep

WAIT_LOG_EVERY = 5.0  # s between two "waiting" lines in a log


def color_wanted(stream: IO[str] | None = None, environ: dict[str, str] | None = None) -> bool:
    """Colours and cursor movement only on a terminal, and not when NO_COLOR is set (no-color.org:
    any non-empty value) or the terminal says it cannot (TERM=dumb)."""
    env = os.environ if environ is None else environ
    stream = stream or sys.stderr
    return _isatty(stream) and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def width_of(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size().columns


def make_progress(stream: IO[str] | None = None) -> Log:
    stream = stream or sys.stderr
    if not _isatty(stream):
        return Log(stream)
    if not color_wanted(stream):
        return Plain(stream)
    return Live(stream)


class Log:
    """A log (CI): every line gets its UTC time; ticks are notes; waits say where they are every
    WAIT_LOG_EVERY seconds. What a CI log showed before the live display, unchanged."""

    on_terminal = False

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._last_wait = 0.0

    # ----- how a line is written --------------------------------------------
    def _write(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%SZ ", time.gmtime())
        text = "".join(
            stamp + line if line.strip() else line for line in text.splitlines(keepends=True)
        )
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    def echo(self, message: str) -> None:
        """A line of the run's own (the lock's notes), in order with the progress lines; in a
        log as it always was, unstamped."""
        with self._lock:
            self.stream.write(message + "\n")
            self.stream.flush()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        return None

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """While the operator is asked something (a pause step)."""
        yield

    def asking(self, ask: Callable[[str], bool]) -> Callable[[str], bool]:
        """`ask` with the live region out of the way while the operator answers."""

        def asked(message: str) -> bool:
            with self.suspended():
                return ask(message)

        return asked

    def summary(self, lines: list[str]) -> None:
        """The closing summary: a terminal shows it, a log has the report for that."""
        return None

    # ----- the runner's events ------------------------------------------------
    def step_started(self, step: PlannedStep, total: int) -> None:
        self._write(f"[{step.index}/{total}] {step.name} ({', '.join(step.hosts)})\n")

    def host_started(self, step: PlannedStep, host: str) -> None:
        return None

    def host_done(
        self, step: PlannedStep, host: str, status: str, elapsed: float, detail: str
    ) -> None:
        self._write(host_line(host, status, elapsed, detail) + "\n")

    def note(self, step: PlannedStep, host: str, message: str) -> None:
        self._write(f"    {host}: {message}\n")

    def tick(self, step: PlannedStep, host: str, message: str) -> None:
        self.note(step, host, message)

    def live(self, step: PlannedStep, host: str, text: str) -> None:
        return None

    def transfer(self, step: PlannedStep, host: str, verb: str, done: int, total: int) -> None:
        return None

    def waiting(self, step: PlannedStep, elapsed: float, timeout: float, state: str) -> None:
        if time.monotonic() - self._last_wait >= WAIT_LOG_EVERY:
            self._last_wait = time.monotonic()
            self._write(f"    waiting {elapsed:5.1f}s / {timeout:g}s: {state}\n")

    def step_done(self, step: PlannedStep, status: str, elapsed: float) -> None:
        self._write(f"    done in {elapsed:.1f}s\n")


def host_line(host: str, status: str, elapsed: float, detail: str) -> str:
    """`    node1: changed (0.4s) - what it did`; a failure's or a long detail's lines below it."""
    lines = detail.strip().splitlines()
    first = lines[0] if lines else ""
    if len(lines) > 1:
        first = "\n" + "\n".join("      " + line for line in lines)
    elif status == "failed":
        first = detail.strip()
    return f"    {host}: {status} ({elapsed:.1f}s){' - ' + first if first else ''}"


class Plain(Log):
    """A terminal without colours: the log's lines unstamped, each wrapped to the terminal's width,
    and one status line (a wait, a copy, a tick) redrawn with a carriage return, cut to the width:
    the next line always starts on a line of its own."""

    on_terminal = True

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._status = 0  # characters of the status line now on the screen

    def _write(self, text: str) -> None:
        width = width_of(self.stream)
        lines = []
        for line in text.splitlines():
            lines += _wrap(line, width)
        with self._lock:
            self._clear()
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()

    def _clear(self) -> None:
        if self._status:
            self.stream.write("\r" + " " * self._status + "\r")
            self._status = 0

    def _show(self, text: str) -> None:
        line = text.replace("\n", " ")[: max(1, width_of(self.stream) - 1)]
        with self._lock:
            self._clear()
            self.stream.write(line)
            self.stream.flush()
            self._status = len(line)

    def close(self) -> None:
        with self._lock:
            self._clear()
            self.stream.flush()

    def echo(self, message: str) -> None:
        self._write(message)

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        self.close()  # the question starts a line of its own
        yield

    def summary(self, lines: list[str]) -> None:
        self._write("".join(line + "\n" for line in ["", *lines]))

    def tick(self, step: PlannedStep, host: str, message: str) -> None:
        self._show(f"    {host}: {message}")

    def live(self, step: PlannedStep, host: str, text: str) -> None:
        self._show(f"    {host}: {text}")

    def transfer(self, step: PlannedStep, host: str, verb: str, done: int, total: int) -> None:
        share = f" ({done / total:.0%})" if total else ""
        self._show(f"    {host}: {verb} {units.size(done)} of {units.size(total)}{share}")

    def waiting(self, step: PlannedStep, elapsed: float, timeout: float, state: str) -> None:
        self._show(f"    waiting {elapsed:5.1f}s / {timeout:g}s: {state}")


def _wrap(line: str, width: int) -> list[str]:
    """A line as lines no wider than the terminal, continued under its own indentation."""
    if len(line) <= width or width < 20:
        return [line]
    indent = " " * min(len(line) - len(line.lstrip()) + 2, width // 2)
    return textwrap.wrap(
        line,
        width,
        subsequent_indent=indent,
        break_on_hyphens=False,
        drop_whitespace=True,
        replace_whitespace=False,
    ) or [line]


# ----- the live display ------------------------------------------------------------
STATUS_STYLE = {
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "interrupted": "bold red",
    "unreachable": "bold red",
    "skipped": "dim",
}


@dataclass
class Row:
    """One host running the current step."""

    host: str
    started: float
    expect: float | None = None  # predicted seconds of this host's work
    text: str = ""
    verb: str = ""
    done: int = 0
    total: int = 0
    first: tuple[float, int] | None = None  # (when, bytes) of the copy's first figures


@dataclass
class Current:
    step: PlannedStep
    total: int
    started: float
    rows: dict[str, Row] = field(default_factory=dict)
    wait: tuple[float, float, str, float] | None = None  # elapsed, timeout, state, when read


class Live(Log):
    """Colours and a live region (rich): the lines a log would show are printed above it, coloured;
    the region shows the step that runs and one row per host that has not finished it."""

    on_terminal = True
    REFRESH = 4  # redraws per second: spinners turn and clocks move between events

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        # lazy: rich is imported only when a terminal shows a run
        from rich.console import Console

        self.console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
        self._live: Any = None
        self._current: Current | None = None
        self._state = threading.RLock()  # the display's data (taken inside _out, never around it)
        self._out = threading.RLock()  # everything written: lines above and the region's redraws
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ----- lines above the region ----------------------------------------------
    def _print(self, *lines: Any) -> None:
        """Lines above the region, each already no wider than the terminal. One writer at a time:
        rich's own refresh thread would race with prints from the hosts' threads (a redraw that
        erases fewer lines than it drew leaves a stale line behind), so this class redraws the
        region itself, under the same lock."""
        with self._out:
            for line in lines:
                self.console.print(line, crop=True, soft_wrap=False, no_wrap=True)

    def _write(self, text: str) -> None:
        from rich.text import Text

        width = self.console.size.width
        self._print(
            *(Text(w) for line in text.rstrip("\n").split("\n") for w in _wrap(line, width))
        )

    def echo(self, message: str) -> None:
        self._write(message)

    def summary(self, lines: list[str]) -> None:
        self.close()
        width = self.console.size.width
        self._print("", *(paint(w) for line in lines for w in _wrap(line, width)))

    def _start(self) -> None:
        with self._out:
            if self._live is not None:
                return
            from rich.live import Live as RichLive

            self._live = RichLive(
                console=self.console,
                get_renderable=self._region,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                vertical_overflow="crop",
            )
            self._live.start()
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="etcdops-live", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(1 / self.REFRESH):
            with self._out:
                if self._live is not None:
                    self._live.refresh()

    def close(self) -> None:
        self._stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=2)
        with self._out:
            live, self._live = self._live, None
            if live is not None:
                live.stop()

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        self.close()
        try:
            yield
        finally:
            if self._current is not None:
                self._start()

    # ----- the runner's events ----------------------------------------------------
    def step_started(self, step: PlannedStep, total: int) -> None:
        from rich.text import Text

        with self._state:
            self._current = Current(step, total, time.monotonic())
        self._print(
            Text.assemble(
                (f"[{step.index}/{total}] {step.name}", "bold"), f" ({', '.join(step.hosts)})"
            )
        )
        self._start()

    def host_started(self, step: PlannedStep, host: str) -> None:
        with self._state:
            if self._current is not None:
                self._current.rows[host] = Row(host, time.monotonic(), _expected(step, host))

    def host_done(
        self, step: PlannedStep, host: str, status: str, elapsed: float, detail: str
    ) -> None:
        from rich.text import Text

        with self._state:
            if self._current is not None:
                self._current.rows.pop(host, None)
        width = self.console.size.width
        failed = "red" if status == "failed" else ""
        lines = [
            Text(w, style=failed)
            for line in host_line(host, status, elapsed, detail).split("\n")
            for w in _wrap(line, width)
        ]
        start = 4 + len(host) + 2  # "    HOST: STATUS"
        lines[0].stylize("bold", 4, 4 + len(host))
        lines[0].stylize(STATUS_STYLE.get(status, ""), start, start + len(status))
        self._print(*lines)

    def note(self, step: PlannedStep, host: str, message: str) -> None:
        self._write(f"    {host}: {message}")

    def tick(self, step: PlannedStep, host: str, message: str) -> None:
        self._row_text(host, message)

    def live(self, step: PlannedStep, host: str, text: str) -> None:
        self._row_text(host, text)

    def _row_text(self, host: str, text: str) -> None:
        with self._state:
            row = self._current.rows.get(host) if self._current else None
            if row is not None:
                row.text = text.replace("\n", " ")

    def transfer(self, step: PlannedStep, host: str, verb: str, done: int, total: int) -> None:
        now = time.monotonic()
        with self._state:
            row = self._current.rows.get(host) if self._current else None
            if row is not None:
                if row.first is None or done < row.done:  # a new copy (a retry)
                    row.first = (now, done)
                row.verb, row.done, row.total = verb, done, total

    def waiting(self, step: PlannedStep, elapsed: float, timeout: float, state: str) -> None:
        with self._state:
            if self._current is not None:
                self._current.wait = (elapsed, timeout, state.replace("\n", " "), time.monotonic())

    def step_done(self, step: PlannedStep, status: str, elapsed: float) -> None:
        from rich.text import Text

        with self._state:
            self._current = None
        self._print(Text(f"    done in {elapsed:.1f}s", style="dim"))

    # ----- the region -------------------------------------------------------------
    def _region(self) -> Any:
        """The step that runs, its wait, and a row per host still at it: each one line, cut to
        the terminal's width as it is now."""
        from rich.console import Group
        from rich.text import Text

        with self._state:
            current = self._current
            rows = list(current.rows.values()) if current else []
            wait = current.wait if current else None
        if current is None:
            return Text("")
        width = max(20, self.console.size.width)
        now = time.monotonic()
        step = current.step
        clock = _clock(now - current.started, step.predicted.seconds if step.predicted else None)
        lines = [
            _line(width, now, Text(f"[{step.index}/{current.total}] {step.name}", "bold"), clock)
        ]
        if wait is not None:
            elapsed, timeout, state, _at = wait
            lines.append(
                _line(
                    width,
                    None,
                    Text(f"  waiting: {state}"),
                    f"{units.seconds(elapsed)} of {timeout:g}s",
                    (elapsed, timeout),
                )
            )
        lines += [_row_line(row, now, width) for row in rows]
        return Group(*lines)


def _expected(step: PlannedStep, host: str) -> float | None:
    """This host's share of the step's predicted duration (its work at the predicted rate)."""
    if step.predicted is None or step.predicted.rate <= 0:
        return None
    work = next((a.action.work for a in step.actions if a.host == host), 0)
    return work / step.predicted.rate if work else None


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
FIGURES = 42  # at most this much of a line for a row's figures


def _line(
    width: int,
    now: float | None,
    label: Any,
    figures: str,
    share: tuple[float, float] | None = None,
) -> Any:
    """`⠋ label ━━━━━━━━─── figures`, exactly `width` wide: the label cut with `…`, the bar
    (when there is a share) and the figures (cut too) at the right."""
    from rich.text import Text

    figures = figures[:FIGURES]
    bar = max(6, min(24, width // 6)) if share is not None else 0
    room = width - 2 - (bar + 1 if bar else 0) - len(figures) - 1
    line = Text(SPINNER[int(now * 10) % len(SPINNER)] if now is not None else " ", "cyan")
    line.append(" ")
    label = label.copy()
    label.truncate(max(4, room), overflow="ellipsis", pad=True)
    line.append_text(label)
    line.append(" ")
    if share is not None:
        done, total = share
        filled = int(bar * min(1.0, done / total)) if total > 0 else 0
        line.append("━" * filled, "magenta")
        line.append("━" * (bar - filled), "grey37")
        line.append(" ")
    line.append(figures)
    line.truncate(width, overflow="crop")
    return line


def _clock(elapsed: float, predicted: float | None) -> str:
    if predicted is None:
        return units.seconds(elapsed)
    return f"{units.seconds(elapsed)} of ~{units.seconds(predicted)}"


def _row_line(row: Row, now: float, width: int) -> Any:
    from rich.text import Text

    label = Text.assemble(("  " + row.host, "bold"), (f": {row.text}" if row.text else "", ""))
    elapsed = now - row.started
    if row.total:
        since, at = row.first or (now, row.done)
        # the rate once half a second of bytes has been seen (the first chunk says little)
        rate = (row.done - at) / (now - since) if now - since >= 0.5 else 0.0
        figures = f"{units.size(row.done)}/{units.size(row.total)}"
        if rate > 0:
            left = (row.total - row.done) / rate
            figures += f" {units.rate(rate)} {units.seconds(left)} left"
        return _line(width, now, label, figures, (row.done, row.total))
    if row.expect:
        over = elapsed > row.expect
        figures = (
            f"{units.seconds(elapsed)}, over the ~{units.seconds(row.expect)} predicted"
            if over
            else f"{units.seconds(elapsed)}, ~{units.seconds(row.expect - elapsed)} left"
        )
        return _line(width, now, label, figures, (elapsed, row.expect * (1.05 if over else 1)))
    return _line(width, now, label, units.seconds(elapsed))


# ----- colours for text made elsewhere (status, plans, the summary) -----------------
PAINT = (
    (
        r"\bNOT HEALTHY\b|\bUNREACHABLE\b|\bDOWN\b|\[FAILED\]|\bFAILED\b|\bunhealthy\b|\brefused\b",
        "bold red",
    ),
    (r"\bWARNING\b", "bold yellow"),
    (r"\bHEALTHY\b|\bhealthy\b|\[ok\]", "green"),
    (r"(?<=: )changed\b", "yellow"),
    (r"(?<=: )ok\b", "green"),
    (
        r"^(PLAN|IMPACT|SUMMARY|DISK|DURATION|MEMBERS|ENDPOINTS|ALARMS|CERTIFICATES|SET ASIDE)\b.*",
        "bold",
    ),
    (r"^\[\d+/\d+\] .*?(?=  \(|$)", "bold"),
)


def paint(line: str) -> Any:
    """A line of text with the words that matter coloured (a rich Text; never markup)."""
    from rich.text import Text

    text = Text(line)
    for pattern, style in PAINT:
        text.highlight_regex(pattern, style)
    return text


def fit(text: str, stream: IO[str] | None = None) -> str:
    """Text for a terminal: each line wrapped to its width (under its own indentation); text for
    anything else as it is."""
    stream = stream or sys.stdout
    if not _isatty(stream):
        return text
    width = width_of(stream)
    return "\n".join(w for line in text.split("\n") for w in _wrap(line, width))


def echo_painted(text: str, stream: IO[str] | None = None) -> None:
    """Print text made for people: coloured on a terminal that wants colours, else as it is."""
    stream = stream or sys.stdout
    if not color_wanted(stream):
        stream.write(text + "\n")
        stream.flush()
        return
    from rich.console import Console

    console = Console(file=stream, highlight=False, markup=False, emoji=False, soft_wrap=True)
    for line in text.split("\n"):
        console.print(paint(line))
