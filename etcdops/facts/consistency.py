"""Do the members hold the same data? Every member's hash of its keyspace at one fixed revision
(`etcdctl endpoint hashkv --rev=R`), compared (`status --consistency`).

The revision is the lowest every member has reached (each has applied it), and is compared
there: at each member's own latest revision the hashes differ whenever a write lands between the
reads (etcd#14510). A member whose database changed under etcd (a flipped byte, a bad disk) hashes
differently and is named; etcd itself finds that only with its corruption checks switched on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from etcdops.commands import auth_env, etcdctl
from etcdops.errors import EtcdopsError
from etcdops.facts.model import ClusterFacts
from etcdops.facts.parse import ParseError, parse_hashkv
from etcdops.inventory import Inventory
from etcdops.transport.pool import Pool

TIMEOUT = 120.0


@dataclass(frozen=True)
class Consistency:
    revision: int | None
    hashes: dict[str, int] = field(default_factory=dict)  # host (or endpoint) -> its hash
    differ: tuple[str, ...] = ()  # the hosts whose hash is not the one most members have
    error: str = ""  # why it could not be compared
    majority: bool = True  # False: the hashes differ and no majority of members agrees

    @property
    def ok(self) -> bool:
        return not self.error and not self.differ

    def lines(self) -> list[str]:
        if self.error:
            return [f"CONSISTENCY: not compared: {self.error}"]
        common = Counter(self.hashes.values()).most_common(1)[0][0]
        if not self.differ:
            return [
                f"CONSISTENCY: every member ({len(self.hashes)}) hashes its keyspace at revision "
                f"{self.revision} to {common:x}"
            ]
        odd = ", ".join(f"{h} ({self.hashes[h]:x})" for h in self.differ)
        if not self.majority:
            return [
                f"CONSISTENCY: at revision {self.revision} the members hash the keyspace "
                f"differently, {odd}, and no majority agrees: which data is right is for you to "
                "find out (restore from a snapshot you trust)"
            ]
        return [
            f"CONSISTENCY: at revision {self.revision} {odd} hash(es) the keyspace differently "
            f"from the others ({common:x}): its data differs (restore it, or replace the member)"
        ]


def check(inventory: Inventory, pool: Pool, facts: ClusterFacts) -> Consistency:
    """Every member's hash at the lowest revision they all report, asked through one member that
    answers (the leader first)."""
    answered = {h: hf.status for h, hf in facts.hosts.items() if hf.status is not None}
    if not answered or not facts.members:
        return Consistency(None, error="no member's etcd answered")
    revision = min(s.revision for s in answered.values())
    urls = [u for m in facts.members for u in m.client_urls[:1]]
    order = sorted(answered, key=lambda h: h != facts.leader_host)
    last = ""
    for via in order:
        etcd = inventory.host(via).etcd
        if etcd is None:
            continue
        command = etcdctl(
            etcd,
            "endpoint",
            "hashkv",
            f"--rev={revision}",
            "-w",
            "json",
            endpoints=urls,
            command_timeout="60s",
        )
        env = {k: v.reveal() for k, v in auth_env(etcd)} or None
        try:
            result = pool.get(via).run(command.text, TIMEOUT, env=env)
            hashes = parse_hashkv(result.stdout)
        except (EtcdopsError, ParseError) as exc:
            last = str(exc)
            continue
        named = {inventory.host_of_client_url(h.endpoint): h.hash for h in hashes}
        missing = [u for u in urls if u not in {h.endpoint for h in hashes}]
        if missing:
            why = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            return Consistency(revision, named, error=f"{', '.join(missing)}: {why}")
        common, count = Counter(named.values()).most_common(1)[0]
        if count * 2 <= len(named) and len(set(named.values())) > 1:  # no majority to go by
            return Consistency(revision, named, tuple(sorted(named)), majority=False)
        differ = tuple(sorted(h for h, v in named.items() if v != common))
        return Consistency(revision, named, differ)
    return Consistency(revision, error=last or "no member could be asked")
