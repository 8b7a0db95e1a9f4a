"""The files a run writes where the operator asked (--report, --junit, --html): checked before
anything is touched, and written without ever turning a finished maintenance into a failure.

check_output refuses (BadInput, exit 2) a path that cannot be a file etcdops writes: under a
missing directory or a file, a directory, a device or FIFO (`/dev/full`: a report is a file,
and the HTML page is renamed into place), or in a directory it cannot write. write_output
writes and returns the problem instead of raising, so the caller can put the file in the run's
journal and say where.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from etcdops.errors import BadInput


def check_output(path: Path, option: str, renamed: bool = False) -> None:
    """BadInput unless etcdops can write the file path (renamed: the file is written beside it
    and renamed into place, so its directory must be writable even when it exists)."""
    target = Path(os.path.abspath(path))
    problem = _problem(target, renamed)
    if problem:
        raise BadInput(f"{option} {path}: {problem}; nothing was touched")


def _problem(target: Path, renamed: bool) -> str | None:
    parent = target.parent
    for folder in (parent, *parent.parents):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is not a directory"
    if not parent.is_dir():
        return f"the directory {parent} does not exist"
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if mode is not None and stat.S_ISDIR(mode):
        return "is a directory"
    if mode is not None and not stat.S_ISREG(mode):
        return "is not a regular file (a device, a FIFO or a socket): a report is written as a file"
    if mode is not None and not os.access(target, os.W_OK):
        return "is not writable"
    if (mode is None or renamed) and not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create files in {parent}"
    return None


def write_output(path: Path, text: str) -> str | None:
    """Write text to path; the problem (e.g. "No space left on device") if it could not be."""
    try:
        path.write_text(text)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
