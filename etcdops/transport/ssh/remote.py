"""Commands on a host over its SSH connection: secrets over stdin (never in any process's
arguments), output collected until the exit status and the end of output are both in, bounded in
time; a stop request gives a running command STOP_GRACE to finish."""

from __future__ import annotations

import select
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import paramiko

from etcdops.errors import CommandTimeout, ConnectError, Interrupted, first_line
from etcdops.transport import STOP_GRACE, Cancel, Result, env_prelude

if TYPE_CHECKING:
    from etcdops.transport.ssh.connection import SSHTransport

READ_CHUNK = 65536
LOST = (paramiko.SSHException, OSError, EOFError, TimeoutError)


class Remote:
    """Runs commands through one connection (fabric's Remote)."""

    def __init__(self, connection: SSHTransport) -> None:
        self.connection = connection

    def run(
        self,
        command: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cancel: Cancel | None = None,
    ) -> Result:
        client = self.connection.ensure()
        transport = client.get_transport()
        assert transport is not None
        prelude, stdin = env_prelude(env)
        try:
            chan = transport.open_session(timeout=self.connection.connect_timeout)
            chan.exec_command(self.connection.wrap(prelude + command))
            if stdin:
                # the secrets: read by the shell's `read` builtin, never an argument
                chan.sendall(stdin)
            chan.shutdown_write()
            return self._collect(chan, command, timeout, cancel)
        except LOST as exc:
            raise ConnectError(
                self.connection.name,
                f"lost the connection while running `{first_line(command, 80)}`: {_reason(exc)}",
            ) from None

    def _collect(
        self, chan: paramiko.Channel, command: str, timeout: float, cancel: Cancel | None
    ) -> Result:
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        asked: float | None = None  # when the run was asked to stop
        try:
            while True:
                while chan.recv_ready():
                    out += chan.recv(READ_CHUNK)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(READ_CHUNK)
                # done once the command's exit status and the end of its output are both in (a
                # closed
                # channel has both); what arrived together with the close is still in the buffers,
                # read
                # it first. A closed channel was once taken for a lost connection when the output
                # and
                # the close of a quick command came in between these checks (a CI failure).
                if chan.recv_ready() or chan.recv_stderr_ready():
                    continue
                if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                    break
                if (
                    chan.eof_received
                    and not chan.exit_status_ready()
                    and not self.connection.transport_active()
                ):
                    raise ConnectError(
                        self.connection.name,
                        f"the connection closed while running `{first_line(command, 80)}`",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandTimeout(self.connection.name, command, timeout)
                reason = cancel() if cancel is not None else None
                if reason and asked is None:
                    asked = time.monotonic()
                if asked is not None and time.monotonic() - asked > STOP_GRACE:
                    raise Interrupted(
                        f"{reason}; `{first_line(command, 80)}` was still running on "
                        f"{self.connection.name} "
                        f"after {STOP_GRACE:g}s and was left to finish there"
                    )
                select.select([chan], [], [], min(remaining, 0.5))
            status = chan.recv_exit_status()
            # the channel closed without an exit status: the connection (or sshd) went away
            if status == -1:
                raise ConnectError(
                    self.connection.name,
                    f"lost the connection while running `{first_line(command, 80)}` "
                    "(it ended without an exit status: the host's sshd went away?)",
                )
            return Result(status, out.decode(errors="replace"), err.decode(errors="replace"))
        finally:
            chan.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, EOFError) or not text:
        return f"{type(exc).__name__} (the host's sshd went away?)"
    return text
