"""What a terminal shows: run a command (or a function) on a real pseudo-terminal of a given size,
and replay what it wrote on a small model of a VT100 screen.

The model knows what the live display uses (printable characters, CR, LF, and the CSI sequences
for cursor up/down, erase line, cursor column; colours and cursor visibility are ignored) and
records the widest column the cursor ever reached: a line wider than the terminal would make it
wrap. The screen it returns is every line as it stands at the end (nothing scrolls away).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
OTHER_ESCAPE = re.compile(r"\x1b[()][0-9A-Za-z]|\x1b[=>78]")
ESCAPE = "\x1b"
SPINNER = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")


@dataclass
class Screen:
    lines: list[str]
    widest: int  # the furthest column any character was written to
    escapes: int  # escape sequences in the raw output

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines)


def replay(data: str) -> Screen:
    lines = [""]
    row = col = widest = 0
    i = 0
    while i < len(data):
        m = CSI.match(data, i)
        if m is not None:
            arg, cmd = m.group(1), m.group(2)
            n = int(arg) if arg.isdigit() else 1
            if cmd == "A":
                row = max(0, row - n)
            elif cmd == "B":
                row += n
            elif cmd == "K":
                lines[row] = lines[row][:col] if arg in ("", "0") else ""
            elif cmd == "G":
                col = n - 1
            i = m.end()
            continue
        m = OTHER_ESCAPE.match(data, i)
        if m is not None:
            i = m.end()
            continue
        ch = data[i]
        i += 1
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            col = 0
        elif ch >= " ":
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1 :]
            col += 1
            widest = max(widest, col)
        while len(lines) <= row:
            lines.append("")
    return Screen(lines, widest, data.count(ESCAPE))


def open_pty(columns: int, rows: int = 30) -> tuple[int, int]:
    """(master, slave) of a new pseudo-terminal of that size, without CR/LF translation."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # the screen model sees what the program wrote
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return master, slave


def drain(master: int) -> str:
    """Everything written so far on the other side of a pseudo-terminal."""
    chunks = []
    while select.select([master], [], [], 0.1)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", errors="replace")


def run_on_pty(
    args: Sequence[str],
    columns: int,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 300,
    rows: int = 30,
    reply: tuple[str, str] | None = None,
) -> tuple[int, Screen, str]:
    """Run a command with stdin, stdout and stderr on one pseudo-terminal (`reply`: when the
    first text shows, the second is typed): its exit code, the screen and the raw output."""
    master, slave = open_pty(columns, rows)
    env = {**env, "COLUMNS": str(columns), "LINES": str(rows)}
    proc = subprocess.Popen(
        list(args), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True
    )
    os.close(slave)
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                data = b""
            if not data:
                break
            chunks.append(data)
            if reply is not None and reply[0].encode() in b"".join(chunks):
                os.write(master, reply[1].encode())
                reply = None
        elif proc.poll() is not None:
            break
        elif time.monotonic() > deadline:
            proc.kill()
            break
    code = proc.wait(timeout=30)
    os.close(master)
    raw = b"".join(chunks).decode("utf-8", errors="replace")
    return code, replay(raw), raw
