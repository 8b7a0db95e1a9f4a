"""The run's display on a real pseudo-terminal, fed the runner's events from several threads as a
parallel step sends them: colours and a live region on a terminal, no escape sequence with
NO_COLOR or without a terminal, no line wider than the terminal, no line glued to another."""

from __future__ import annotations

import io
import os
import re
import threading
import time

from etcdops.cli.progress import Live, Log, Plain, color_wanted, make_progress
from etcdops.durations import Prediction
from etcdops.plan import HostAction, PlannedStep
from etcdops.runbook import Retry
from etcdops.steps.base import Action
from tests.terminal import SPINNER, drain, open_pty, replay

HOSTS = ("node1", "node2", "node3")
LONG = "/var/lib/etcdops-restore-20261207T053111Z.db sha256 ea2290c4f338 verified on both ends " * 2


def step(index: int, name: str, work: int = 0) -> PlannedStep:
    actions = tuple(HostAction(h, Action(intent=f"do it on {h}", work=work)) for h in HOSTS)
    return PlannedStep(
        index=index,
        name=name,
        kind="upload" if work else "wait",
        target="all",
        hosts=HOSTS,
        parallel=True,
        timeout=60.0,
        retry=Retry(),
        actions=actions,
        predicted=Prediction(0.6, work, work / 0.6, 0) if work else None,
    )


def feed(progress: Log) -> None:
    """What a 2-step run sends: a parallel copy with bytes and ticks, then a wait."""
    copy, wait = (
        step(1, "Copy the snapshot to every member " + "x" * 80, 200 << 20),
        step(2, "Wait"),
    )
    progress.step_started(copy, 2)

    def host(h: str) -> None:
        progress.host_started(copy, h)
        # ~1.5 s of copy: the rate shows once half a second of bytes was seen, and the region
        # (4 redraws a second) must get to draw it a few times even on a loaded machine
        for i in range(1, 11):
            progress.transfer(copy, h, "sent", i * (20 << 20), 200 << 20)
            progress.tick(copy, h, f"sent {i * 20} MiB of 200 MiB " + "y" * 90)
            time.sleep(0.15)
        progress.note(copy, h, "a note that is long enough to wrap " * 4)
        progress.host_done(copy, h, "changed", 0.5, LONG)

    threads = [threading.Thread(target=host, args=(h,)) for h in HOSTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.step_done(copy, "changed", 0.6)
    progress.step_started(wait, 2)
    progress.host_started(wait, "control")
    for i in range(4):
        progress.waiting(wait, i * 0.3, 30, "2/3 healthy, leader node1 " + "z" * 100)
        time.sleep(0.3)
    progress.host_done(wait, "control", "ok", 1.2, "after 1.2s")
    progress.step_done(wait, "ok", 1.2)
    progress.summary(["SUMMARY x on lab: SUCCESSFUL in 2s", "  etcd unavailable to clients: never"])
    progress.close()


def on_pty(kind: type[Log], columns: int) -> str:
    master, slave = open_pty(columns)
    out: list[str] = []
    reader_done = threading.Event()

    def reader() -> None:  # a pseudo-terminal holds little: read as it is written
        while not reader_done.is_set():
            out.append(drain(master))
        out.append(drain(master))

    thread = threading.Thread(target=reader)
    thread.start()
    stream = os.fdopen(slave, "w", encoding="utf-8", closefd=False)
    try:
        feed(kind(stream))
        stream.flush()
    finally:
        reader_done.set()
        thread.join(timeout=10)
        os.close(slave)
        os.close(master)
    return "".join(out)


def host_lines_start_their_own_line(text: str) -> None:
    for h in HOSTS:
        found = [line for line in text.splitlines() if f"{h}: changed" in line]
        assert len(found) == 1 and found[0].startswith(f"    {h}: changed (0.5s)"), found


def test_a_terminal_gets_colours_and_a_region_that_fits_and_leaves_nothing_behind() -> None:
    raw = on_pty(Live, 80)
    screen = replay(raw)
    assert screen.escapes > 0 and "\x1b[33m" in raw  # `changed` in yellow
    assert screen.widest <= 80, [line for line in screen.lines if len(line) > 80]
    assert not any(SPINNER & set(line) for line in screen.lines), screen.text  # region gone
    host_lines_start_their_own_line(screen.text)
    assert "SUMMARY x on lab" in screen.text
    # the region showed the copy's bytes with a rate and the time left, and the wait
    assert re.search(r"\d+\.\d MiB/200\.0 MiB \d+\.\d MiB/s [\d.]+s left", raw), raw[-3000:]
    assert "waiting: 2/3 healthy" in raw


def test_no_color_on_a_terminal_writes_no_escape_sequence_and_nothing_glued() -> None:
    raw = on_pty(Plain, 80)
    screen = replay(raw)
    assert "\x1b" not in raw
    assert screen.widest <= 80, [line for line in screen.lines if len(line) > 80]
    host_lines_start_their_own_line(screen.text)
    assert "[2/2] Wait (node1, node2, node3)" in screen.text
    assert "waiting" not in screen.text  # the status line was cleared, never left half-written


def test_a_log_gets_the_same_utc_stamped_lines_as_before() -> None:
    buf = io.StringIO()
    feed(Log(buf))
    text = buf.getvalue()
    assert "\x1b" not in text and "SUMMARY" not in text  # the report has the figures
    lines = text.splitlines()
    assert all(re.match(r"\d\d:\d\d:\d\dZ ", line) for line in lines if line.strip()), lines
    assert re.search(r"Z \[1/2\] Copy the snapshot", text)
    assert re.search(r"Z     node1: changed \(0\.5s\) - /var/lib", text)
    assert re.search(r"Z     node2: sent 20 MiB of 200 MiB", text)  # a tick is a line in a log
    assert re.search(r"Z     waiting   0\.0s / 30s: 2/3 healthy", text)


def test_which_display_from_the_stream_and_no_color() -> None:
    master, slave = open_pty(80)
    tty = os.fdopen(slave, "w", closefd=False)
    try:
        assert color_wanted(tty, {}) and not color_wanted(tty, {"NO_COLOR": "1"})
        assert not color_wanted(tty, {"TERM": "dumb"}) and color_wanted(tty, {"NO_COLOR": ""})
        assert not color_wanted(io.StringIO(), {})
        assert type(make_progress(io.StringIO())) is Log
    finally:
        os.close(slave)
        os.close(master)
