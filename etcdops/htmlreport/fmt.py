"""Formatting shared by the page's sections: every value escaped, times, sizes, durations."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from etcdops.htmlreport.timeline import when


def e(value: Any) -> str:
    """Any value as HTML text: from inventories and clusters, so never trusted."""
    return escape("" if value is None else str(value), quote=True)


def time_of(text: Any) -> dt.datetime | None:
    try:
        return when(str(text)) if text else None
    except ValueError:
        return None


def clock(t: dt.datetime | None, ms: bool = False) -> str:
    if t is None:
        return "?"
    return t.strftime("%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if ms else "")


def secs(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 60:
        return f"{x:.1f} s"
    return f"{int(x // 60)} min {x % 60:.0f} s"


def or_(value: Any, default: str) -> Any:
    return default if value is None else value


def mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f} MB"
