"""The poll loops of steps: polls start an interval apart (a read's own time is not added to the
interval), a read slower than the interval is not followed back to back, and the loop ends at its
timeout naming what it waited for."""

from __future__ import annotations

import time

import pytest

from etcdops.errors import StepFailed
from etcdops.steps.base import MIN_POLL_GAP, ExecContext, RunInfo


def _context(timeout: float) -> ExecContext:
    return ExecContext(
        host="node1",
        step="poll",
        timeout=timeout,
        deadline=time.monotonic() + timeout,
        info=RunInfo(id="r", stamp="s", time="t"),
        transports=lambda name: None,
        read_facts=lambda: None,
    )  # type: ignore[arg-type,return-value]


def _reader(seconds: float, done_at: int, starts: list[float]):
    def read() -> tuple[bool, str]:
        starts.append(time.monotonic())
        time.sleep(seconds)
        return len(starts) >= done_at, f"poll {len(starts)}"

    return read


def test_polls_start_an_interval_apart_whatever_a_read_takes() -> None:
    starts: list[float] = []
    state = _context(10).poll(_reader(0.2, 4, starts), "the fourth read", 0.25)
    assert state == "poll 4"
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # read 0.2 s + sleep 0.25 s would be 0.45 s apart; start to start is 0.25 s
    assert all(0.24 <= gap < 0.38 for gap in gaps), gaps


def test_a_read_slower_than_the_interval_is_not_followed_back_to_back() -> None:
    starts: list[float] = []
    _context(10).poll(_reader(0.3, 3, starts), "the third read", 0.2)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap >= 0.3 + MIN_POLL_GAP - 0.01 for gap in gaps), gaps


def test_the_poll_ends_at_its_timeout_naming_what_it_waited_for() -> None:
    starts: list[float] = []
    began = time.monotonic()
    with pytest.raises(StepFailed, match="waiting until nothing.*last seen: poll"):
        _context(10).poll(_reader(0.05, 10**9, starts), "nothing", 0.2, timeout=1.0)
    assert time.monotonic() - began < 1.5
    assert 4 <= len(starts) <= 6, len(starts)
