"""Quorum arithmetic for membership changes, and the rules that refuse unsafe ones.

Pure: it works on a small model of the cluster (voters with their health, learners),
simulated step by step at plan time and rebuilt from live facts before each change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from etcdops.facts.model import ClusterFacts, quorum


@dataclass(frozen=True)
class Membership:
    """Voters (name → healthy) and learners, keyed by inventory host name (or member name)."""

    voters: tuple[tuple[str, bool], ...]
    learners: tuple[str, ...]

    @classmethod
    def from_facts(cls, facts: ClusterFacts) -> Membership:
        healthy = {m.id for m in facts.healthy_voters}
        voters = tuple((_key(facts, m.id, m.name), m.id in healthy) for m in facts.voters)
        learners = tuple(_key(facts, m.id, m.name) for m in facts.learners)
        return cls(voters=voters, learners=learners)

    @property
    def voter_count(self) -> int:
        return len(self.voters)

    @property
    def healthy_count(self) -> int:
        return sum(1 for _, ok in self.voters if ok)

    def is_voter(self, host: str) -> bool:
        return any(name == host for name, _ in self.voters)

    def refusal(self, change: str, host: str) -> str | None:
        """Why `change` of `host` would be unsafe now, or None when it is safe."""
        if change in ("add", "add_learner"):
            sick = [name for name, ok in self.voters if not ok]
            if sick:
                return (
                    f"adding {host} while voter(s) {', '.join(sick)} are unhealthy could leave the "
                    "cluster unable to write; repair or remove them first"
                )
            pending = [name for name in self.learners if name != host]
            if pending:
                learners = ", ".join(pending)
                return (
                    f"learner {learners} is still pending; "
                    f"promote or remove it before adding {host}"
                )
            return None
        if change == "remove" and self.is_voter(host):
            after = self.voter_count - 1
            if after < 1:
                return f"removing {host} would leave the cluster without a voter"
            healthy_after = sum(1 for name, ok in self.voters if ok and name != host)
            if healthy_after < quorum(after):
                return (
                    f"removing {host} leaves {healthy_after} healthy voter(s) of {after}, below "
                    "the "
                    f"new quorum of {quorum(after)}"
                )
        return None

    def apply(self, change: str, host: str) -> Membership:
        if change == "new_cluster":  # --force-new-cluster: host alone, a healthy voter
            return replace(self, voters=((host, True),), learners=())
        voters = tuple(v for v in self.voters if v[0] != host)
        learners = tuple(name for name in self.learners if name != host)
        if change == "add_learner":
            learners += (host,)
        elif change in ("add", "promote"):
            voters += ((host, True),)
        return replace(self, voters=voters, learners=learners)


def _key(facts: ClusterFacts, member_id: int, name: str) -> str:
    return facts.member_hosts.get(member_id) or name or f"{member_id:x}"
