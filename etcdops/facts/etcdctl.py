"""The etcdctl/etcdutl command line for one host, as a shell fragment (quoted, secrets masked)."""

from __future__ import annotations

from etcdops.inventory import EtcdConfig
from etcdops.templating import Raw, ShellFragment

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


# prints the `member list` line (ID, status, name, peer URLs, client URLs, is learner) of a peer URL
_MEMBER_LINE_AWK = '{n = split($4, urls, ","); for (i = 1; i <= n; i++) if (urls[i] == u) print}'


def member_line(etcd: EtcdConfig, peer_url: str) -> ShellFragment:
    """A pipeline printing the member-list line of the member with peer_url (nothing if none)."""
    return etcdctl(etcd).plus(Raw("member list | awk -F', ' -v"), f"u={peer_url}", _MEMBER_LINE_AWK)


def etcdutl(etcd: EtcdConfig) -> ShellFragment:
    return ShellFragment(etcd.etcdutl)
