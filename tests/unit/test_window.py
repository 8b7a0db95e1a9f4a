from __future__ import annotations

import datetime as dt

import pytest

from etcdops.errors import BadInput
from etcdops.window import parse_window

SAT = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)  # a Saturday


def at(day: dt.datetime, hhmm: str) -> dt.datetime:
    h, m = map(int, hhmm.split(":"))
    return day.replace(hour=h, minute=m)


def test_a_simple_window() -> None:
    w = parse_window("Sat 02:00-04:00 UTC")
    assert w.contains(at(SAT, "02:00")) and w.contains(at(SAT, "03:59"))
    assert not w.contains(at(SAT, "04:00")) and not w.contains(at(SAT, "01:59"))
    assert not w.contains(at(SAT + dt.timedelta(days=1), "03:00"))


def test_a_window_past_midnight_belongs_to_the_day_it_opens() -> None:
    w = parse_window("Fri 23:00-01:00")
    fri = SAT - dt.timedelta(days=1)
    assert w.contains(at(fri, "23:30")) and w.contains(at(SAT, "00:30"))
    assert not w.contains(at(SAT, "23:30"))


def test_day_ranges_and_time_zones() -> None:
    w = parse_window("Mon-Fri 22:00-23:00 Europe/Berlin")
    assert not w.contains(at(SAT, "21:30"))  # Saturday
    mon = SAT + dt.timedelta(days=2)
    assert w.contains(at(mon, "21:30"))  # 22:30 in Berlin (CET, UTC+1)
    assert parse_window("daily 00:00-23:59").contains(at(SAT, "12:00"))


@pytest.mark.parametrize(
    "spec",
    [
        "Sat",
        "Sat 25:00-26:00",
        "Caturday 01:00-02:00",
        "Sat 01:00-01:00",
        "Sat 01:00-02:00 Mars/Olympus",
    ],
)
def test_bad_windows_are_bad_input(spec: str) -> None:
    with pytest.raises(BadInput):
        parse_window(spec)
