"""Files to and from a host over its SSH connection: SFTP for small files, OpenSSH's own copy
(transport/openssh.py) for bulk copies when the control node has it, both ends' sha256 either way
(fabric's Transfer)."""

from __future__ import annotations

import errno
import os
import shlex
import socket
import time
from typing import TYPE_CHECKING

import paramiko

from etcdops.errors import ConnectError, TransferError
from etcdops.sha256 import file_sha256, parse_sha256sum
from etcdops.transport import Progress, openssh
from etcdops.transport.openssh import Copied

if TYPE_CHECKING:
    from etcdops.transport.ssh.connection import SSHTransport

LOST = (paramiko.SSHException, OSError, EOFError, socket.timeout)


class Transfer:
    """Copies through one connection."""

    def __init__(self, connection: SSHTransport) -> None:
        self.connection = connection

    def _sftp(self) -> paramiko.SFTPClient:
        try:
            return self.connection.ensure().open_sftp()
        except LOST as exc:
            raise ConnectError(self.connection.name, f"SFTP: {_reason(exc)}") from None

    def put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        """Upload; with sudo, through a temporary file moved into place by sudo."""
        if not self.connection.host.become:
            target = remote_path
        else:
            target = f"/tmp/.etcdops-{os.getpid()}-{time.time_ns()}"
        sftp = self._sftp()
        try:
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
            sftp.put(local_path, target, callback=progress)
        except LOST as exc:
            if (
                self.connection.transport_active()
                and isinstance(exc, OSError)
                and not isinstance(exc, socket.timeout)
            ):
                # the host said no (a full disk)
                raise TransferError(self.connection.name, target, _reason(exc)) from None
            raise ConnectError(
                self.connection.name, f"upload to {remote_path}: {_reason(exc)}"
            ) from None
        finally:
            _close_quietly(sftp)
        if self.connection.host.become:
            result = self.connection.run(
                f"mv {shlex.quote(target)} {shlex.quote(remote_path)}", timeout
            )
            if not result.ok:
                raise ConnectError(
                    self.connection.name, f"upload to {remote_path}: {result.stderr.strip()}"
                )

    def get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        sftp = self._sftp()
        try:
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
            sftp.get(remote_path, local_path, callback=progress)
        except OSError as exc:
            # the control node's own disk
            if exc.errno in (
                errno.ENOSPC,
                errno.EDQUOT,
                errno.EACCES,
                errno.EROFS,
            ):
                raise TransferError("control", local_path, exc.strerror or str(exc)) from None
            raise ConnectError(
                self.connection.name, f"download of {remote_path}: {_reason(exc)}"
            ) from None
        except LOST as exc:
            raise ConnectError(
                self.connection.name, f"download of {remote_path}: {_reason(exc)}"
            ) from None
        finally:
            _close_quietly(sftp)

    def stream_put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        """Copy to the host with both ends' sha256 computed as the bytes go: through OpenSSH when
        the control node has it (its line rate), else paramiko's SFTP and a sha256sum on the
        host."""
        if openssh.available() and os.path.getsize(local_path) >= openssh.MIN_BYTES:
            # the host key is checked by paramiko first: a changed key is named as such
            self.connection.ensure()
            return self._copier().put(local_path, remote_path, timeout, progress)
        digest = file_sha256(local_path)
        self.put(local_path, remote_path, timeout, progress)
        return Copied(
            digest, self._remote_sha256(remote_path, timeout), os.path.getsize(local_path)
        )

    def stream_get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        if openssh.available() and self._size(remote_path, timeout) >= openssh.MIN_BYTES:
            return self._copier().get(remote_path, local_path, timeout, progress)
        want = self._remote_sha256(remote_path, timeout)
        self.get(remote_path, local_path, timeout, progress)
        return Copied(file_sha256(local_path), want, os.path.getsize(local_path))

    def _size(self, path: str, timeout: float) -> int:
        out = self.connection.run(
            f"stat -c %s -- {shlex.quote(path)} 2>/dev/null || echo 0", timeout
        ).stdout.strip()
        return int(out) if out.isdigit() else 0

    def _copier(self) -> openssh.OpenSSHCopier:
        return openssh.OpenSSHCopier(
            self.connection.host, self.connection.known_hosts(), self.connection.wrap
        )

    def _remote_sha256(self, path: str, timeout: float) -> str:
        command = f"sha256sum -- {shlex.quote(path)} 2>/dev/null || true"
        return parse_sha256sum(self.connection.run(command, timeout).stdout)

    def read_file(self, path: str, timeout: float) -> str | None:
        q = shlex.quote(path)
        result = self.connection.run(f"if [ -e {q} ]; then cat {q}; else exit 44; fi", timeout)
        if result.exit_code == 44:
            return None
        if not result.ok:
            raise ConnectError(self.connection.name, f"cannot read {path}: {result.stderr.strip()}")
        return result.stdout


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, EOFError) or not text:
        return f"{type(exc).__name__} (the host's sshd went away?)"
    return text


def _close_quietly(sftp: paramiko.SFTPClient) -> None:
    try:
        sftp.close()
    except LOST:  # the connection is gone already: the copy's own error says so
        pass
