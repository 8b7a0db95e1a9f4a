"""Read cluster facts over SSH: the facts script (script.py) on every member host in parallel, one
round trip each, its sections parsed (sections.py), the hosts' facts assembled into the
cluster's. Read-only."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from etcdops.commands import auth_env
from etcdops.errors import CommandTimeout, ConnectError, EtcdopsError, HostKeyError
from etcdops.facts import gateway
from etcdops.facts import versions as installed
from etcdops.facts.aside import listing_command, parse_listing
from etcdops.facts.model import Alarm, ClusterFacts, HostFacts, Member
from etcdops.facts.parse import ParseError, parse_member_list
from etcdops.facts.script import facts_script
from etcdops.facts.sections import (
    ClusterView,
    GatewayUnfit,
    gateway_sections,
    host_facts_from_output,
    host_facts_from_sections,
)
from etcdops.facts.through import Through
from etcdops.inventory import Host, Inventory
from etcdops.transport.pool import Pool

FACTS_TIMEOUT = 20.0


def gather(
    inventory: Inventory,
    pool: Pool,
    hosts: list[Host] | None = None,
    timeout: float = FACTS_TIMEOUT,
    versions: bool = True,
    through: Through | None = None,
    around_ssh: bool = False,
    elsewhere: bool = False,
) -> ClusterFacts:
    """Facts of the inventory's members (or hosts) and of any other member the cluster lists.

    versions=False skips the installed binaries' versions (the running etcd's own comes with
    endpoint status): for the re-reads during a run, which need live state only. With through,
    those re-reads ask every member's etcd through one member host where it can (facts/through.py).
    With around_ssh (status), the etcd of a host that SSH cannot reach is read through a member
    host that it can: the host stays unreachable, its etcd is shown as it is.
    With elsewhere (`status`), what etcdops set aside on the inventory's other hosts (a former
    member, a spare a scale-out wiped) is read too, alongside the members: ClusterFacts.others.
    """
    targets = [h for h in (hosts if hosts is not None else inventory.members) if h.etcd is not None]
    cluster = ClusterView()
    # also for re-reads without versions: the member list stands for health
    known = installed.load()
    fresh: dict[str, dict[str, str]] = {}

    def one(name: str) -> HostFacts:
        host = inventory.host(name)
        # etcd auth goes over stdin into the remote shell's environment, never into an argument
        env = {k: v.reveal() for k, v in auth_env(host.etcd)} or None
        result = pool.get(name).run(facts_script(host, versions, known), timeout, env=env)
        try:
            return host_facts_from_output(host, result.stdout, cluster, known, fresh)
        except GatewayUnfit:
            result = pool.get(name).run(
                facts_script(host, versions, known, use_gateway=False), timeout, env=env
            )
            return host_facts_from_output(host, result.stdout, cluster, known, fresh)

    with ThreadPoolExecutor(max_workers=1) as side:
        outside = side.submit(_read_elsewhere, inventory, pool, targets) if elsewhere else None
        if through is not None and not versions:
            results = _read_through(pool, targets, through, one, timeout, cluster, fresh)
        else:
            results = pool.map(targets, one)
        others = outside.result() if outside is not None else {}
    # a second round for hosts that are members of the cluster but not (yet) in the etcd group,
    # e.g. right after a scale-out, so that status and waits see the whole cluster
    gathered = {h.name for h in targets}
    extra = [
        h
        for m in (cluster.members or [])
        if (h := _host_of_member(inventory, m)) is not None
        and h.name not in gathered
        and h.etcd is not None
    ]
    if extra:
        results.update(pool.map(extra, one))
    installed.save(known, fresh)
    host_facts: dict[str, HostFacts] = {}
    keys = [res for res in results.values() if isinstance(res, HostKeyError)]
    if keys:  # a security event, never an unhealthy or unreachable member: every command stops here
        raise keys[0]
    for name, res in results.items():
        if isinstance(res, BaseException):
            if not isinstance(res, EtcdopsError):
                raise res
            # reached over SSH, but etcdctl hung: the host is reachable, its etcd is not answering
            reachable = isinstance(res, CommandTimeout)
            host_facts[name] = HostFacts(host=name, reachable=reachable, error=str(res))
        else:
            host_facts[name] = res
    if around_ssh:
        host_facts.update(_around_ssh(inventory, pool, host_facts, cluster, fresh, timeout))
    members_from = ""
    if versions and not cluster.members:  # no quorum read: the member list a member knows
        members_from = _own_member_list(inventory, pool, host_facts, cluster, timeout)
    facts = assemble(
        inventory, host_facts, cluster.members or [], cluster.cluster_id, cluster.alarms
    )
    if members_from:
        facts = replace(facts, members_from=members_from)
    if through is not None and not versions:
        through.observe(facts)
    if others:
        facts = replace(facts, others={n: hf for n, hf in others.items() if n not in facts.hosts})
    return facts


def _read_through(
    pool: Pool,
    targets: list[Host],
    through: Through,
    one: Callable[[str], HostFacts],
    timeout: float,
    cluster: ClusterView,
    fresh: dict[str, dict[str, str]],
) -> dict[str, HostFacts | BaseException]:
    """The via host's one curl for the hosts it is asked for, the others' own reads alongside it,
    then the own reads of whatever the curl did not settle."""
    asked = [h for h in targets if through.asks(h.name)]
    with ThreadPoolExecutor(max_workers=1) as side:
        pending = side.submit(through.read, asked, timeout)
        results = pool.map([h for h in targets if h not in asked], one)
        answers = pending.result()
    for host in asked:
        found = answers.get(host.name)
        if found is not None and host.etcd is not None:
            sections = gateway_sections(host.etcd.client_url, *found)
            results[host.name] = host_facts_from_sections(
                host, sections, cluster, None, fresh, through=str(through.via)
            )
    results.update(pool.map([h for h in asked if h.name not in answers], one))
    return results


def _own_member_list(
    inventory: Inventory,
    pool: Pool,
    host_facts: dict[str, HostFacts],
    cluster: ClusterView,
    timeout: float,
) -> str:
    """Without a quorum no member serves the linearizable member list; each still knows its own.
    Read it (serializable, through etcd's gateway) from the member that answered status with the
    highest applied index, into cluster; its host, or "" when none could tell."""
    answered = sorted(
        ((hf.status.applied_index, name) for name, hf in host_facts.items() if hf.status),
        reverse=True,
    )
    for _, name in answered[:2]:
        etcd = inventory.host(name).etcd
        if etcd is None:
            continue
        requests = gateway.requests_of([etcd.client_url], ("own_members",))
        try:
            result = pool.get(name).run(gateway.requests_command(etcd, requests).text, timeout)
        except EtcdopsError:
            continue
        answer = gateway.parse(result.stdout, requests).get(requests[0])
        if answer is None or answer.code != 200:
            continue
        try:
            cluster.cluster_id, cluster.members = parse_member_list(answer.body)
        except (ParseError, KeyError, TypeError, ValueError):
            continue
        return name
    return ""


def _around_ssh(
    inventory: Inventory,
    pool: Pool,
    host_facts: dict[str, HostFacts],
    cluster: ClusterView,
    fresh: dict[str, dict[str, str]],
    timeout: float,
) -> dict[str, HostFacts]:
    """The etcd of every host SSH could not reach, read through a healthy member host's curl
    (facts/through.py); a host that read cannot settle stays as it was (UNREACHABLE)."""
    lost = [
        inventory.host(n)
        for n, hf in host_facts.items()
        if not hf.reachable and inventory.host(n).etcd is not None
    ]
    via = next((n for n, hf in host_facts.items() if hf.reachable and hf.healthy), None)
    if not lost or via is None:
        return {}
    found = Through(inventory, pool, via).read(lost, timeout)
    read = {}
    for host in lost:
        if host.name in found and host.etcd is not None:
            sections = gateway_sections(host.etcd.client_url, *found[host.name])
            facts = host_facts_from_sections(host, sections, cluster, None, fresh, through=via)
            read[host.name] = replace(facts, reachable=False, ssh_error=host_facts[host.name].error)
    return read


ELSEWHERE_TIMEOUT = 10.0  # s for one other host's listing (its connection is bounded on its own)


def _read_elsewhere(inventory: Inventory, pool: Pool, members: list[Host]) -> dict[str, HostFacts]:
    """What etcdops set aside on every host of the inventory outside the members read (with etcd
    settings, so with a data dir etcdops may have moved aside there): one listing each, in parallel
    (bounded). A host that cannot be read says why; a changed host key is never passed over."""
    read = {h.name for h in members}
    hosts = [h for h in inventory.hosts.values() if h.etcd is not None and h.name not in read]

    def one(name: str) -> HostFacts:
        etcd = inventory.host(name).etcd
        assert etcd is not None
        result = pool.get(name).run(listing_command(etcd), ELSEWHERE_TIMEOUT)
        aside, data_fs = parse_listing(result.stdout, etcd)
        return HostFacts(host=name, reachable=True, aside=aside, data_fs=data_fs)

    found: dict[str, HostFacts] = {}
    for name, res in pool.map(hosts, one).items():
        if isinstance(res, HostKeyError):
            raise res
        if isinstance(res, BaseException):
            if not isinstance(res, EtcdopsError):
                raise res
            reachable = not isinstance(res, ConnectError)
            found[name] = HostFacts(host=name, reachable=reachable, error=str(res))
        else:
            found[name] = res
    return found


def _host_of_member(inventory: Inventory, member: Member) -> Host | None:
    host = inventory.by_member_name(member.name) if member.name else None
    return host or next((h for u in member.peer_urls if (h := inventory.by_peer_url(u))), None)


def assemble(
    inventory: Inventory,
    host_facts: dict[str, HostFacts],
    members: list[Member],
    cluster_id: int | None,
    alarms: list[Alarm],
) -> ClusterFacts:
    member_hosts: dict[int, str] = {}
    for name, hf in host_facts.items():
        if hf.status is not None:
            member_hosts[hf.status.member_id] = name
    for m in members:
        if m.id in member_hosts:
            continue
        host = _host_of_member(inventory, m)
        if host is not None:
            member_hosts[m.id] = host.name
    # a leader counts only if it answered and says so itself: right after a quorum loss the
    # survivors still name the old leader for an election timeout or so
    leaders = Counter(
        hf.status.leader for hf in host_facts.values() if hf.status and hf.status.leader
    )
    leader_id = leaders.most_common(1)[0][0] if leaders else None
    if leader_id is not None and not any(
        hf.status and hf.status.is_leader and hf.status.member_id == leader_id
        for hf in host_facts.values()
    ):
        leader_id = None
    if cluster_id is None:
        ids = Counter(hf.status.cluster_id for hf in host_facts.values() if hf.status)
        cluster_id = ids.most_common(1)[0][0] if ids else None
    return ClusterFacts(
        hosts=host_facts,
        members=tuple(members),
        alarms=tuple(alarms),
        cluster_id=cluster_id,
        leader_id=leader_id,
        leader_host=member_hosts.get(leader_id) if leader_id else None,
        member_hosts=member_hosts,
        read_at=time.monotonic(),
    )
