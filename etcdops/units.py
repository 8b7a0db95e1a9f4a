"""How sizes and durations read, everywhere a person reads them: binary units with one decimal (`512
B`, `3.0 KiB`, `12.5 MiB`, `1.2 GiB`), seconds below a minute, then minutes. Reports and JSON
keep raw bytes and seconds."""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(n: float | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in UNITS:
        if abs(value) < 1024 or unit == UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def rate(bytes_per_second: float) -> str:
    return f"{size(bytes_per_second)}/s"


def seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    minutes, rest = divmod(round(s), 60)
    return f"{minutes}m{rest:02d}s"
