"""The re-reads of a run (every wait's poll, the re-check before a step) through one member host:
every member's status and linearizable member list from etcd's gateway, in one curl on that host
(`via`), instead of one SSH session, shell and curl per member.

What is read this way is etcd's own state as one member host sees it, with the same proof of
health as a member's own read (its linearizable member list answered, etcd 3.5+). A host it
cannot settle is read over its own SSH as before, in the same poll, with the same diagnosis:
 - no conclusive answer (etcd not listening, no quorum, a 3.4 server, TLS refused, a timeout);
 - two hosts answered by the same member (a client URL that names the asking host, 127.0.0.1);
 - the via host cannot read at all (SSH, no curl): another healthy member host reads next time;
 - the curl outlives the read's bound (members that hang, 3 s per request): all are read directly;
 - etcd refuses its gateway to the client certificate (auth on): direct reads for the run.
A host that its own read finds healthy right after the via read missed it is read directly for
the rest of the run (the via host cannot see it); one missed while down goes back through the via
host once a direct read finds it healthy. Host-level facts (SSH reach, versions, disk) are not
re-read here: those are read when the run is planned and by every step that acts on a host.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from etcdops.errors import CommandTimeout, EtcdopsError
from etcdops.facts import gateway
from etcdops.facts.model import ClusterFacts
from etcdops.inventory import Host, Inventory
from etcdops.transport.pool import Pool

KINDS = ("status", "members")
# (status, member list: None for a learner's)
Answers = tuple[gateway.Answer, "gateway.Answer | None"]


class Through:
    """Which member host reads for the others during one run, and which hosts it does not read."""

    def __init__(
        self, inventory: Inventory, pool: Pool, via: str | None, avoid: Iterable[str] = ()
    ) -> None:
        self.inventory, self.pool = inventory, pool
        self.via = via
        # hosts never asked to read for the others (the one a run adds or removes)
        self.avoid = set(avoid)
        # why no host reads for the others for the rest of the run (etcd refuses its gateway)
        self.off = ""
        self.failed: set[str] = set()  # via hosts that could not read (SSH, no curl)
        # hosts the via host cannot read: over their own SSH for the run
        self.direct: set[str] = set()
        # missed while not healthy: over their own SSH until seen healthy
        self.unsure: set[str] = set()
        self.missed: set[str] = set()  # hosts the last via read left for their own read

    def asks(self, host: str) -> bool:
        """Whether the next read asks host's etcd through the via host."""
        return not self.off and self.via is not None and host not in self.direct | self.unsure

    def read(self, hosts: list[Host], timeout: float) -> dict[str, Answers]:
        """The answers of every host the via host's one curl settled; the others are left out (and
        only when the curl answered, marked missed: a read that failed as a whole tells nothing
        of them)."""
        self.missed = set()
        if self.off or self.via is None or not hosts:
            return {}
        via = self.inventory.host(self.via)
        assert via.etcd is not None
        requests = gateway.requests_of(
            [h.etcd.client_url for h in hosts if h.etcd is not None], KINDS
        )
        try:
            result = self.pool.get(via.name).run(
                gateway.requests_command(via.etcd, requests).text, timeout
            )
        except CommandTimeout:  # members that hang (3 s each request): their own reads say so
            return {}
        except EtcdopsError:
            self.failed.add(via.name)
            return {}
        if gateway.NO_CURL in result.stdout:
            self.failed.add(via.name)
            return {}
        answers = gateway.parse(result.stdout, requests)
        if gateway.refused(answers):
            self.off = f"etcd refuses its gateway to {via.name}'s client certificate"
            return {}
        found = settled(hosts, answers)
        self.missed = {h.name for h in hosts} - set(found)
        return found

    def observe(self, facts: ClusterFacts) -> None:
        """After the poll: sort the hosts the via read missed by what their own read found, and pick
        the next via host if this one could not read."""
        healthy = {name for name, hf in facts.hosts.items() if hf.healthy}
        self.direct |= self.missed & healthy
        self.unsure = (self.unsure | self.missed) - healthy
        self.missed = set()
        if self.via is None or self.via in self.failed:
            self.via = facts.healthy_voter_host(tuple(self.failed | self.avoid)) or None


def settled(
    hosts: list[Host], answers: dict[tuple[str, str], gateway.Answer]
) -> dict[str, Answers]:
    """{host: (status, member list)} for every host whose etcd answered status as a 3.5+ member and,
    unless a learner, proved its health with the linearizable member list; a member that answered
    for two hosts (one URL reaching the same etcd) settles neither. Pure."""
    found: dict[str, tuple[Answers, str]] = {}
    for host in hosts:
        if host.etcd is None:
            continue
        url = host.etcd.client_url
        answer = answers.get(("status", url))
        status = gateway.status_of(answer)
        if answer is None or status is None or not gateway.linearizable(status):
            continue
        members = answers.get(("members", url))
        if status.get("isLearner"):
            members = None
        elif not gateway.proves_health(status, members):
            continue
        found[host.name] = ((answer, members), str(status["header"].get("member_id", "")))
    seen = Counter(member for _, member in found.values())
    return {name: pair for name, (pair, member) in found.items() if member and seen[member] == 1}
