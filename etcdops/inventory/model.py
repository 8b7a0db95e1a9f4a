"""Typed view of an Ansible-format inventory, as etcdops needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from etcdops.templating import Secret

# a fenced member's client port: its own plus this (2379 -> 12379); its peer port is unchanged
FENCE_OFFSET = 10000


def fence_urls(urls: str) -> str:
    """Client URLs (comma-separated) with each port moved by FENCE_OFFSET: where a restored member
    listens while etcdops checks and cleans it, out of its clients' reach."""
    out = []
    for url in urls.split(","):
        parts = urlsplit(url.strip())
        port = (parts.port or 2379) + FENCE_OFFSET
        if port > 65535:
            raise ValueError(f"{url}: its port + {FENCE_OFFSET} is no TCP port")
        host = parts.hostname or ""
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        out.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
    return ",".join(out)


def _is_peer(url: str, etcd: EtcdConfig) -> bool:
    return (urlsplit(url).port or 0) == (urlsplit(etcd.peer_url).port or 2380)


@dataclass(frozen=True)
class EtcdConfig:
    """How one host runs (or will run) an etcd member."""

    name: str
    peer_url: str
    client_url: str
    data_dir: str
    wal_dir: str | None
    env_file: str
    bin_dir: str
    start_cmd: str
    stop_cmd: str
    restart_cmd: str
    status_cmd: str
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: Secret | None = None
    quota_backend_bytes: int | None = None
    # etcd.env settings for a joining host
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    # listen client/peer URLs when they differ from the advertised ones
    listen_urls: tuple[str, ...] = ()

    @property
    def etcdctl(self) -> str:
        return f"{self.bin_dir}/etcdctl"

    def fenced(self) -> EtcdConfig:
        """The member as a fenced restore runs it: its client URLs on another port that only
        etcdops knows (fence_urls), its peer URLs as they are."""
        return replace(
            self,
            client_url=fence_urls(self.client_url),
            listen_urls=tuple(u if _is_peer(u, self) else fence_urls(u) for u in self.listen_urls),
        )

    @property
    def etcdutl(self) -> str:
        return f"{self.bin_dir}/etcdutl"

    @property
    def etcd(self) -> str:
        return f"{self.bin_dir}/etcd"


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int
    user: str
    groups: tuple[str, ...]
    vars: Mapping[str, Any] = field(repr=False)
    key_file: str | None = None
    become: bool = False
    become_user: str = "root"
    jump: str | None = None
    known_hosts: str | None = None
    # where known_hosts came from (inventory/sshconfig.py), and a setting that named no file
    # (UserKnownHostsFile=/dev/null) that etcdops did not follow
    known_hosts_source: str = ""
    known_hosts_note: str = ""
    etcd: EtcdConfig | None = None
    lock_file: str | None = None  # etcdops_lock_file
    profile: str = "default"  # the inventory layout its settings were derived with (profiles.py)

    def as_context(self) -> dict[str, Any]:
        """What templates see as ``host``: etcdops' settings, and any inventory variable, rendered
        by Ansible when a template reads it (`host.some_var`)."""
        ctx = HostContext(
            name=self.name,
            address=self.address,
            port=self.port,
            user=self.user,
            groups=list(self.groups),
        )
        ctx.lazy = self.vars
        if self.etcd is not None:
            ctx["etcd"] = self.etcd
        return ctx


class HostContext(dict[str, Any]):
    """A dict whose missing keys are the host's inventory variables, read (and rendered) on
    demand."""

    lazy: Mapping[str, Any] = {}

    def __missing__(self, key: str) -> Any:
        return self.lazy[key]


@dataclass(frozen=True)
class Inventory:
    name: str
    path: Path
    hosts: Mapping[str, Host]
    groups: Mapping[str, tuple[str, ...]]
    # what Ansible warned about while reading it (an unknown key, ...)
    warnings: tuple[str, ...] = ()
    # (host, var) → FILE:LINE
    origins: Mapping[tuple[str, str], str] = field(default_factory=dict, hash=False)

    def group(self, name: str) -> list[Host]:
        return [self.hosts[h] for h in self.groups.get(name, ())]

    @property
    def members(self) -> list[Host]:
        """Hosts of the `etcd` group: the cluster as the inventory declares it."""
        return self.group("etcd")

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def host_of_client_url(self, url: str) -> str:
        """The name of the host whose etcd serves url, else url itself."""
        for host in self.hosts.values():
            if host.etcd is not None and host.etcd.client_url.rstrip("/") == url.rstrip("/"):
                return host.name
        return url

    def by_member_name(self, member_name: str) -> Host | None:
        for host in self.hosts.values():
            if host.etcd is not None and host.etcd.name == member_name:
                return host
        return None

    def by_peer_url(self, url: str) -> Host | None:
        for host in self.hosts.values():
            if host.etcd is not None and host.etcd.peer_url.rstrip("/") == url.rstrip("/"):
                return host
        return None

    def fenced(self) -> Inventory:
        """The same inventory with every member's client URLs fenced (EtcdConfig.fenced): what
        the steps of a restore read and act on before clients may reach the cluster."""
        hosts = {
            name: replace(h, etcd=h.etcd.fenced()) if h.etcd is not None else h
            for name, h in self.hosts.items()
        }
        return replace(self, hosts=hosts)

    def initial_cluster(self, hosts: list[Host] | None = None) -> str:
        chosen = self.members if hosts is None else hosts
        return ",".join(f"{h.etcd.name}={h.etcd.peer_url}" for h in chosen if h.etcd)
