"""Typed cluster facts, built from `etcdctl -w json` output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def hex_id(value: int) -> str:
    return f"{value:x}"


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool

    @property
    def id_hex(self) -> str:
        return hex_id(self.id)

    @property
    def started(self) -> bool:
        """etcd lists a member that never started with an empty name and no client URLs."""
        return bool(self.name)


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: str
    cluster_id: int
    member_id: int
    version: str
    db_size: int
    db_size_in_use: int
    leader: int
    raft_term: int
    raft_index: int
    applied_index: int
    revision: int
    is_learner: bool
    errors: tuple[str, ...] = ()

    @property
    def is_leader(self) -> bool:
        return self.member_id == self.leader and self.leader != 0


@dataclass(frozen=True)
class Alarm:
    member_id: int
    alarm: str


@dataclass(frozen=True)
class HostFacts:
    """What one host told us (or why it could not)."""

    host: str
    reachable: bool
    status: EndpointStatus | None = None
    healthy: bool = False
    health_error: str | None = None
    error: str | None = None
    etcd_version: str | None = None
    etcdctl_version: str | None = None
    member_ids: tuple[int, ...] | None = None  # the member list as this host's etcd reports it
    # its etcd answered but refused us (a client certificate refused): not DOWN
    answers: bool = False
    certs: tuple[Any, ...] = ()  # facts.certs.CertInfo of its server and peer certificates
    # facts.aside.AsideItem: what etcdops set aside there (status, plan)
    aside: tuple[Any, ...] = ()
    data_fs: tuple[int, int, str] | None = None  # (size, free, mount) of the data dir's filesystem
    # the member host whose curl read this etcd (facts/through.py); "": over its own SSH
    through: str = ""
    # why SSH to the host failed when its etcd was read through another member host (status): the
    # host is unreachable for etcdops, its etcd is not for that reason unhealthy
    ssh_error: str | None = None


@dataclass(frozen=True)
class ClusterFacts:
    hosts: dict[str, HostFacts]
    members: tuple[Member, ...]
    alarms: tuple[Alarm, ...]
    cluster_id: int | None
    leader_id: int | None
    leader_host: str | None
    member_hosts: dict[int, str] = field(default_factory=dict)
    # time.monotonic() when read; 0.0 = not read live
    read_at: float = field(default=0.0, compare=False)
    # without a quorum: the host whose own member list `members` is (read without a leader)
    members_from: str = ""
    # the inventory's hosts outside the cluster, read for what etcdops set aside there (status)
    others: dict[str, HostFacts] = field(default_factory=dict)

    # ----- derived ---------------------------------------------------------
    @property
    def voters(self) -> list[Member]:
        return [m for m in self.members if not m.is_learner]

    @property
    def learners(self) -> list[Member]:
        return [m for m in self.members if m.is_learner]

    @property
    def healthy_voters(self) -> list[Member]:
        healthy = {h for h, f in self.hosts.items() if f.healthy}
        return [m for m in self.voters if self.member_hosts.get(m.id) in healthy]

    @property
    def has_quorum(self) -> bool:
        """A leader, a member list, and at least a quorum of voters passing the health check."""
        return (
            self.leader_id is not None
            and bool(self.voters)
            and len(self.healthy_voters) >= self.quorum
        )

    @property
    def quorum(self) -> int:
        return quorum(len(self.voters))

    @property
    def tolerance(self) -> int:
        return tolerance(len(self.voters))

    @property
    def healthy(self) -> bool:
        return (
            bool(self.members)
            and self.leader_id is not None
            and all(
                self.member_hosts.get(m.id) in self.hosts
                and self.hosts[self.member_hosts[m.id]].healthy
                for m in self.members
            )
        )

    @property
    def unreachable(self) -> list[str]:
        return [h for h, f in self.hosts.items() if not f.reachable]

    @property
    def revision(self) -> int | None:
        revs = [f.status.revision for f in self.hosts.values() if f.status]
        return max(revs) if revs else None

    @property
    def version(self) -> str | None:
        versions = sorted({f.status.version for f in self.hosts.values() if f.status})
        return versions[0] if versions else None

    @property
    def cluster_ids(self) -> set[int]:
        return {f.status.cluster_id for f in self.hosts.values() if f.status}

    def member_of(self, host: str) -> Member | None:
        """The member an inventory host is (mapped by endpoint status, name or peer URL), if any."""
        return next((m for m in self.members if self.member_hosts.get(m.id) == host), None)

    def status_of(self, host: str) -> EndpointStatus | None:
        hf = self.hosts.get(host)
        return hf.status if hf else None

    @property
    def member_lists_agree(self) -> bool:
        """Every member that answered reports the same member list."""
        ids = {m.id for m in self.members}
        lists = [
            set(f.member_ids)
            for h, f in self.hosts.items()
            if f.member_ids is not None and f.status is not None and f.status.member_id in ids
        ]
        return bool(lists) and all(x == ids for x in lists)

    def caught_up(self, host: str) -> bool:
        """host has applied (nearly) everything the leader has: at most max(100, 1%) entries
        behind."""
        progress = self.learner_progress(host)
        if progress is None:
            return False
        mine, leader = progress
        return mine >= leader - max(100, leader // 100)

    def healthy_voter_host(self, exclude: list[str] | tuple[str, ...] = ()) -> str:
        """An inventory host of a healthy voter not in exclude (followers first), or '': one that
        SSH reaches (a member read through another host is healthy, its host is not usable)."""
        hosts = [
            h
            for m in self.healthy_voters
            if (h := self.member_hosts.get(m.id)) and h not in exclude and self.hosts[h].reachable
        ]
        hosts.sort(key=lambda h: (h == self.leader_host, h))
        return hosts[0] if hosts else ""

    def peer_list(self, without: list[str] | tuple[str, ...] = ()) -> list[str]:
        """NAME=PEER_URL of every current member whose host is not in without (for
        ETCD_INITIAL_CLUSTER)."""
        return [
            f"{m.name}={url}"
            for m in self.members
            if self.member_hosts.get(m.id) not in without
            for url in m.peer_urls
        ]

    def members_outside(self, hosts: list[str] | tuple[str, ...]) -> list[str]:
        """Members of the cluster that are not on one of hosts (by host, else by member name or id):
        what a runbook over the inventory's etcd group would leave out."""
        return [
            self.member_hosts.get(m.id) or m.name or f"{m.id:x}"
            for m in self.members
            if self.member_hosts.get(m.id) not in hosts
        ]

    def peers_are(self, initial_cluster: str) -> bool:
        """True when the members' peer URLs are exactly those of an ETCD_INITIAL_CLUSTER value
        (names aside: a member added but not started has none yet)."""
        wanted = {item.partition("=")[2] for item in initial_cluster.split(",") if item.strip()}
        return wanted == {url for m in self.members for url in m.peer_urls}

    def learner_progress(self, host: str) -> tuple[int, int] | None:
        """(applied index of host, applied index of the leader), when both answered."""
        mine = self.status_of(host)
        leader = self.status_of(self.leader_host) if self.leader_host else None
        return (mine.applied_index, leader.applied_index) if mine and leader else None

    def host_of(self, member: Member) -> str | None:
        return self.member_hosts.get(member.id)

    @property
    def read_any(self) -> bool:
        """Some member's etcd answered: without that there is no cluster to report on."""
        return any(f.status is not None for f in self.hosts.values())

    def problems(self) -> list[str]:
        """Why the cluster is not healthy, in words, hosts with the same cause on one line:
        `status --check` prints them."""
        found = [] if self.leader_id is not None or not self.read_any else ["no leader"]
        causes: dict[str, list[str]] = {}
        for m in self.members:
            host = self.member_hosts.get(m.id)
            what = f"member {m.name or m.id_hex}"
            if host is None:
                found.append(f"{what} ({m.id_hex}) is on no host of the inventory")
            elif host not in self.hosts:
                found.append(f"{what} on {host} was not read (a host outside the etcd group)")
            elif not self.hosts[host].healthy:
                causes.setdefault(_why(self.hosts[host]), []).append(host)
        for host, f in self.hosts.items():
            if not self.members and not f.healthy:
                causes.setdefault(_why(f), []).append(host)
        found += [f"{', '.join(hosts)}: {cause}" for cause, hosts in causes.items()]
        return found or ([] if self.healthy else ["no member list could be read"])


def _why(f: HostFacts) -> str:
    if f.status is None and not f.reachable:
        return f"SSH failed, its etcd was not read: {_unnamed(f.error, f.host)}"
    if f.status is None:
        return _unnamed(f.error, f.host) or "its etcd did not answer"
    return f"not healthy: {f.health_error or f.error or 'no answer'}"


def _unnamed(error: str | None, host: str) -> str:
    """An error without the host's name in front (`node1: cannot connect: ...`): it is named."""
    text = error or ""
    return text[len(host) + 2 :] if text.startswith(f"{host}: ") else text


def quorum(voters: int) -> int:
    return voters // 2 + 1 if voters else 0


def tolerance(voters: int) -> int:
    return max(0, voters - quorum(voters)) if voters else 0
