"""Who leads now, in one read: every member's status through etcd's gateway, in one curl on one
member host. For the re-check before a step that only needs the leader to be the one it was
planned with (a `followers` or `leader` target): a full facts read of every host costs one
session and script per member for one name.

None whenever this read cannot tell for certain (no curl, a member that does not answer, a
leader outside the inventory): the caller then reads the full facts, as before.
"""

from __future__ import annotations

from collections import Counter

from etcdops.errors import EtcdopsError
from etcdops.facts import gateway
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import parse_status
from etcdops.inventory import Inventory
from etcdops.transport.pool import Pool

TIMEOUT = 10.0  # s: curl's own bound is 3 s per request


def read_leader(inventory: Inventory, pool: Pool, via: str | None = None) -> tuple[str, str] | None:
    """(the leader's host, the host asked: via, a member healthy when the run was planned, else the
    first member), or None when it cannot tell."""
    members = [h for h in inventory.members if h.etcd is not None]
    if not members:
        return None
    asked = next((h for h in members if h.name == via), members[0])
    assert asked.etcd is not None
    hosts = [(h.name, h.etcd.client_url) for h in members if h.etcd is not None]
    requests = gateway.requests_of([u for _, u in hosts], ("status",))
    try:
        result = pool.get(asked.name).run(
            gateway.requests_command(asked.etcd, requests).text, TIMEOUT
        )
    except EtcdopsError:
        return None
    if not result.ok or gateway.NO_CURL in result.stdout:
        return None
    return leader_of(gateway.parse(result.stdout, requests), hosts, asked.name)


def leader_of(
    answers: dict[tuple[str, str], gateway.Answer], hosts: list[tuple[str, str]], asked: str
) -> tuple[str, str] | None:
    """The leader most members name, if it answered and says so itself (as the facts count it); None
    unless every member answered, each as itself."""
    by_id: dict[int, tuple[str, EndpointStatus]] = {}
    named: Counter[int] = Counter()
    for name, url in hosts:
        found = gateway.status_of(answers.get(("status", url)))
        if found is None:
            return None
        status = parse_status(url, found)
        # one etcd answered for two hosts (a URL naming 127.0.0.1, say)
        if status.member_id in by_id:
            return None
        by_id[status.member_id] = (name, status)
        if status.leader:
            named[status.leader] += 1
    if not named:
        return None
    leader = named.most_common(1)[0][0]
    if leader not in by_id or not by_id[leader][1].is_leader:
        return None
    return by_id[leader][0], asked
