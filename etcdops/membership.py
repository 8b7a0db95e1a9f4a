"""Quorum arithmetic for membership changes, and the rules that refuse unsafe ones.

Pure: it works on a small model of the cluster (voters with their health, learners),
simulated step by step at plan time and rebuilt from live facts before each change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from etcdops.facts.model import ClusterFacts, quorum


@dataclass(frozen=True)
class Membership:
    """Voters (name → healthy) and learners, keyed by inventory host name (or member name);
    healthy_learners: the learners that answer (planned ones count as they will)."""

    voters: tuple[tuple[str, bool], ...]
    learners: tuple[str, ...]
    healthy_learners: tuple[str, ...] = ()

    @classmethod
    def from_facts(cls, facts: ClusterFacts) -> Membership:
        healthy = {m.id for m in facts.healthy_voters}
        voters = tuple((_key(facts, m.id, m.name), m.id in healthy) for m in facts.voters)
        learners = tuple(_key(facts, m.id, m.name) for m in facts.learners)
        answering = {h for h, f in facts.hosts.items() if f.healthy}
        return cls(
            voters=voters,
            learners=learners,
            healthy_learners=tuple(name for name in learners if name in answering),
        )

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
        if change == "promote" and not self.is_voter(host):
            return self._promote_refusal(host)
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

    def _promote_refusal(self, host: str) -> str | None:
        """A promote is a membership change like any other: refused while a voter is unhealthy,
        and when the voters after it (the learner among them) tolerate no failure where they
        tolerated one before (the learner does not answer). The learner stays a learner."""
        sick = [name for name, ok in self.voters if not ok]
        healthy, voters = self.healthy_count, self.voter_count
        after = healthy + (1 if host in self.healthy_learners else 0)
        arithmetic = (
            f"after it {voters + 1} voters need a quorum of {quorum(voters + 1)}, with {after} "
            f"healthy: {max(0, after - quorum(voters + 1))} failure(s) tolerated, where "
            f"{healthy} healthy of {voters} tolerate {max(0, healthy - quorum(voters))} now"
        )
        if sick:
            return (
                f"promoting {host} while voter(s) {', '.join(sick)} are unhealthy ({arithmetic}); "
                f"{host} stays a learner: repair or remove them first"
            )
        if healthy - quorum(voters) >= 1 and after - quorum(voters + 1) < 1:
            return (
                f"promoting {host}, which does not answer, would leave no failure tolerated "
                f"({arithmetic}); {host} stays a learner"
            )
        return None

    def apply(self, change: str, host: str) -> Membership:
        if change == "new_cluster":  # --force-new-cluster: host alone, a healthy voter
            return replace(self, voters=((host, True),), learners=())
        voters = tuple(v for v in self.voters if v[0] != host)
        learners = tuple(name for name in self.learners if name != host)
        healthy = tuple(name for name in self.healthy_learners if name != host)
        if change == "add_learner":  # as planned: started and caught up before its promote
            learners += (host,)
            healthy += (host,)
        elif change in ("add", "promote"):
            voters += ((host, True),)
        return replace(self, voters=voters, learners=learners, healthy_learners=healthy)


def describe(facts: ClusterFacts, hosts: list[str] | tuple[str, ...]) -> str:
    """The membership as the live facts show it, for advice after a failure: the voters (healthy
    or not), the learners, the quorum arithmetic, and what each of hosts (those a run changes)
    is now."""
    healthy = {m.id for m in facts.healthy_voters}
    voters = [
        f"{_key(facts, m.id, m.name)}{'' if m.id in healthy else ' (not healthy)'}"
        for m in facts.voters
    ]
    learners = [_key(facts, m.id, m.name) for m in facts.learners]
    count, ok = len(facts.voters), len(healthy)
    lines = [
        f"The membership now (read after the failure): voters {', '.join(voters) or 'none'}; "
        f"learners {', '.join(learners) or 'none'}; quorum {quorum(count)} of {count} voters, "
        f"{ok} healthy: {max(0, ok - quorum(count))} more failure(s) tolerated."
    ]
    for host in hosts:
        member = facts.member_of(host)
        if member is None:
            lines.append(f"{host} is not a member.")
        elif member.is_learner:
            lines.append(f"{host} is a learner (it does not count toward quorum).")
        else:
            lines.append(f"{host} is a voter (it counts toward quorum).")
    return "\n".join(lines)


def _key(facts: ClusterFacts, member_id: int, name: str) -> str:
    return facts.member_hosts.get(member_id) or name or f"{member_id:x}"
