"""The etcdctl/etcdutl command line for one host, as a shell fragment (quoted, secrets masked)."""

from __future__ import annotations

from etcdops.inventory import EtcdConfig
from etcdops.templating import ShellFragment

DIAL_TIMEOUT = "2s"
COMMAND_TIMEOUT = "5s"


def etcdctl(etcd: EtcdConfig, endpoints: str | None = None,
            command_timeout: str = COMMAND_TIMEOUT) -> ShellFragment:
    parts: list[object] = [
        etcd.etcdctl,
        f"--endpoints={endpoints or etcd.client_url}",
        f"--dial-timeout={DIAL_TIMEOUT}",
        f"--command-timeout={command_timeout}",
    ]
    for flag, value in (("--cacert", etcd.cacert), ("--cert", etcd.cert), ("--key", etcd.key)):
        if value:
            parts.append(f"{flag}={value}")
    if etcd.user:
        parts.append(_UserFlag(etcd))
    return ShellFragment(*parts)


class _UserFlag:
    """--user=NAME:PASSWORD with the password masked unless revealed."""

    def __init__(self, etcd: EtcdConfig) -> None:
        self.etcd = etcd

    def __str__(self) -> str:
        password = str(self.etcd.password) if self.etcd.password is not None else ""
        return f"--user={self.etcd.user}:{password}" if password else f"--user={self.etcd.user}"


def etcdutl(etcd: EtcdConfig) -> ShellFragment:
    return ShellFragment(etcd.etcdutl)
