"""Transports: one small interface in front of SSH (paramiko) and the control node."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from etcdops.commands import held

if TYPE_CHECKING:
    from etcdops.transport.openssh import Copied

Progress = Callable[[int, int], None]  # (bytes done, bytes in all), called as a copy goes
Cancel = Callable[[], "str | None"]  # a reason to stop (SIGTERM), or None
STOP_GRACE = 10.0  # s a running command is given to finish once the run was asked to stop
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def env_prelude(env: Mapping[str, str] | None) -> tuple[str, bytes]:
    """(shell text, stdin bytes) that read secrets into the remote shell from its stdin: the values
    never appear in any process's arguments (`read` is a shell builtin). Each goes into a shell
    variable that is not exported (commands.held): no process the script starts has it in its
    environment, only the invocations that name it (`ETCDCTL_USER="$_etcdops_ETCDCTL_USER"
    etcdctl ...`, commands.auth_prefix)."""
    if not env:
        return "", b""
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"not an environment variable name: {name!r}")
        if "\n" in value or "\0" in value:
            raise ValueError(f"the value of {name} holds a newline or NUL")
    # unset first: a variable of that name the shell imported would be exported already
    text = "".join(f"unset {held(name)}; IFS= read -r {held(name)} || exit 97\n" for name in env)
    return text, "".join(f"{value}\n" for value in env.values()).encode()


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

    def run(
        self,
        command: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cancel: Cancel | None = None,
    ) -> Result: ...

    def put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> None: ...

    def get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> None: ...

    def stream_put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied: ...

    def stream_get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied: ...

    def read_file(self, path: str, timeout: float) -> str | None: ...

    def close(self) -> None: ...
