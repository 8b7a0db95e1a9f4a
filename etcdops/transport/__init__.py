"""Transports: one small interface in front of SSH (paramiko) and the control node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Progress = Callable[[int, int], None]  # (bytes done, bytes in all), called as a copy goes


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Transport(Protocol):
    name: str

    def connect(self) -> None: ...  # open the connection now (else the first use does)

    def run(self, command: str, timeout: float) -> Result: ...

    def put(self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None) -> None: ...

    def get(self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None) -> None: ...

    def read_file(self, path: str, timeout: float) -> str | None: ...

    def close(self) -> None: ...
