"""Maintenance windows: "Sat 02:00-04:00 UTC", "Mon-Fri 22:00-02:00 Europe/Berlin", "daily
01:00-03:00".

A window is a set of days (the day it opens), a start and an end time (an end before the
start means it closes the next day) and a time zone (UTC or an IANA name).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from etcdops.errors import BadInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(
    r"^\s*(?P<days>[A-Za-z*,-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
    r"(?:\s+(?P<tz>\S+))?\s*$"
)


@dataclass(frozen=True)
class Window:
    spec: str
    days: frozenset[int]
    start: dt.time
    end: dt.time
    tz: dt.tzinfo

    def contains(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.tz)
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        # wraps past midnight: open from start on a listed day until end the next day
        if t >= self.start:
            return local.weekday() in self.days
        return t < self.end and (local.weekday() - 1) % 7 in self.days

    def __str__(self) -> str:
        return self.spec


def parse_window(spec: str) -> Window:
    m = _SPEC.match(spec)
    if not m:
        raise BadInput(
            f'--window {spec!r}: expected e.g. "Sat 02:00-04:00 UTC" or '
            '"Mon-Fri 22:00-02:00 Europe/Berlin"'
        )
    try:
        start, end = (
            dt.time.fromisoformat(f"{int(x.split(':')[0]):02d}:{x.split(':')[1]}")
            for x in (m["start"], m["end"])
        )
    except ValueError:
        raise BadInput(f"--window {spec!r}: times are HH:MM (00:00 to 23:59)") from None
    if start == end:
        raise BadInput(f"--window {spec!r}: the window is empty (start equals end)")
    try:
        tz: dt.tzinfo = dt.UTC if (m["tz"] or "UTC").upper() == "UTC" else ZoneInfo(m["tz"])
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"--window {spec!r}: unknown time zone {m['tz']!r}") from None
    return Window(spec=spec.strip(), days=_days(m["days"], spec), start=start, end=end, tz=tz)


def _days(text: str, spec: str) -> frozenset[int]:
    if text.lower() in ("*", "daily"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first[:3] not in DAYS or (last and last[:3] not in DAYS):
            raise BadInput(
                f"--window {spec!r}: unknown day in {part!r} (Mon..Sun, ranges like Mon-Fri, daily)"
            )
        a, b = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)
