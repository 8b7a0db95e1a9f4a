"""fsync on the control node: what a crash of the machine right after etcdops went on must not take
back (a snapshot it called saved, the journal a resume relies on)."""

from __future__ import annotations

import os
from pathlib import Path


def durable(path: Path) -> None:
    """fsync a file (or a directory, for the names in it)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
