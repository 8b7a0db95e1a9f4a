"""Debian's chromium, headless and offline, for the HTML report's tests: a screenshot of a page
and the
console messages it logged; and what is on the screenshot (numpy and Pillow come with matplotlib).

Every wait is bounded; the browser runs in a process group of its own, killed by its id at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)  # offline: any name the page asked for would not resolve
CONSOLE = re.compile(r":CONSOLE[:(]")  # what the page logged: errors, CSP refusals, console.* calls
WIDTH, HEIGHT = 1200, 1600


@dataclass(frozen=True)
class Shot:
    png: Path
    console: list[str]
    stderr: str


def screenshot(page: Path, png: Path, scratch: Path, timeout: float = 90) -> Shot:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed (make setup installs Debian's chromium)"
    profile = scratch / f"chromium-profile-{png.stem}"  # a fresh one each time
    cmd = [
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.resolve().as_uri(),
    ]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate(timeout=10)
        raise AssertionError(
            f"chromium took more than {timeout:.0f}s to screenshot {page}"
        ) from None
    finally:
        _kill_group(proc.pid)  # a renderer or zygote left behind
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0 and png.is_file(), (
        f"chromium exited {proc.returncode}:\n{err[-3000:]}"
    )
    return Shot(png, [line for line in err.splitlines() if CONSOLE.search(line)], err)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ----- what the screenshot shows ---------------------------------------------------------
def _pixels(png: Path):  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    with Image.open(png) as img:
        return np.asarray(img.convert("RGB")).astype(int)


def ink(png: Path) -> float:
    """The share of pixels that are not white (a blank page: 0)."""
    px = _pixels(png)
    return float((px < 245).any(axis=2).mean())


def colour_area(
    png: Path, colours: set[str], tolerance: int = 2
) -> tuple[int, tuple[int, int, int, int] | None]:
    """How many pixels have one of these colours (#rrggbb), and their bounding box (x0, y0, x1,
    y1)."""
    import numpy as np

    px = _pixels(png)
    mask = np.zeros(px.shape[:2], dtype=bool)
    for c in colours:
        rgb = np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)])
        mask |= (np.abs(px - rgb) <= tolerance).all(axis=2)
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return 0, None
    return int(mask.sum()), (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def timeline_missing(png: Path, bar_colours: set[str]) -> str | None:
    """Why the screenshot does not show the timeline chart (None: it does): its bars, in their step
    colours, must cover a good area spread across most of the page's width, below the page's
    header."""
    count, box = colour_area(png, bar_colours)
    if box is None or count < 3000:
        return f"only {count} pixels of the timeline's bar colours"
    x0, y0, x1, _y1 = box
    if x1 - x0 < 0.5 * WIDTH:
        return f"the bars span {x1 - x0} px, not most of the {WIDTH} px width"
    if y0 < 100:
        return f"the bars start at y={y0}, inside the page's header"
    return None
