"""The control node itself, for steps that act locally (copies, metadata)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from etcdops.errors import CommandTimeout
from etcdops.transport import Cancel, Progress, Result, env_prelude
from etcdops.transport.openssh import Copied

CONTROL = "control"


class LocalTransport:
    name = CONTROL

    def connect(self) -> None:
        pass

    def run(
        self,
        command: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cancel: Cancel | None = None,
    ) -> Result:
        prelude, stdin = env_prelude(env)
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", prelude + command],
                capture_output=True,
                input=stdin,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise CommandTimeout(self.name, command, timeout) from None
        return Result(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )

    def put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        shutil.copyfile(local_path, remote_path)

    def get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        shutil.copyfile(remote_path, local_path)

    def stream_put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        return _copy(local_path, remote_path, progress)

    def stream_get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        return _copy(remote_path, local_path, progress)

    def read_file(self, path: str, timeout: float) -> str | None:
        p = Path(path)
        return p.read_text() if p.exists() else None

    def close(self) -> None:
        pass


def _copy(src: str, dest: str, progress: Progress | None) -> Copied:
    import hashlib
    import os

    digest, done, total = hashlib.sha256(), 0, os.path.getsize(src)
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(1 << 20):
            digest.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return Copied(digest.hexdigest(), digest.hexdigest(), done)
