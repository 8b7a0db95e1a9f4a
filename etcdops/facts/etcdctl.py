"""`host.etcdctl` for templates of users' own `command:` steps: the host's etcdctl with its
endpoint and TLS flags, as a shell fragment. etcd auth is never a flag: a command step gets
ETCDCTL_USER over stdin (see etcdops.commands)."""

from __future__ import annotations

from etcdops.commands import COMMAND_TIMEOUT, DIAL_TIMEOUT, tls_flags
from etcdops.inventory import EtcdConfig
from etcdops.templating import ShellFragment


def etcdctl(
    etcd: EtcdConfig, endpoints: str | None = None, command_timeout: str = COMMAND_TIMEOUT
) -> ShellFragment:
    return ShellFragment(
        etcd.etcdctl,
        f"--endpoints={endpoints or etcd.client_url}",
        f"--dial-timeout={DIAL_TIMEOUT}",
        f"--command-timeout={command_timeout}",
        *tls_flags(etcd),
    )


def etcdutl(etcd: EtcdConfig) -> ShellFragment:
    return ShellFragment(etcd.etcdutl)
