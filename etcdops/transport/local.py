"""The control node itself, for steps that act locally (copies, metadata)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from etcdops.errors import CommandTimeout
from etcdops.transport import Progress, Result

CONTROL = "control"


class LocalTransport:
    name = CONTROL

    def connect(self) -> None:
        pass

    def run(self, command: str, timeout: float) -> Result:
        try:
            proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CommandTimeout(self.name, command, timeout) from None
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def put(self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None) -> None:
        shutil.copyfile(local_path, remote_path)

    def get(self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None) -> None:
        shutil.copyfile(remote_path, local_path)

    def read_file(self, path: str, timeout: float) -> str | None:
        p = Path(path)
        return p.read_text() if p.exists() else None

    def close(self) -> None:
        pass
