"""Space figures per member (db size, in use, reclaimable, quota) and the defrag rule over them."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.errors import EtcdopsError
from etcdops.facts.model import ClusterFacts
from etcdops.templating import evaluate

MB = 1 << 20
DEFAULT_QUOTA = 2 * 1024 * MB  # etcd's default --quota-backend-bytes (2 GiB)
RULES = {
    "default": "reclaimable > 100 * MB or reclaimable_ratio > 0.5 or quota_usage > 0.8",
    "always": "true",
    "never": "false",
}


@dataclass(frozen=True)
class Space:
    host: str
    db_size: int
    in_use: int
    quota: int
    is_learner: bool
    is_leader: bool

    @property
    def reclaimable(self) -> int:
        return max(0, self.db_size - self.in_use)

    @property
    def reclaimable_ratio(self) -> float:
        return self.reclaimable / self.db_size if self.db_size else 0.0

    @property
    def quota_usage(self) -> float:
        return self.db_size / self.quota if self.quota else 0.0

    def figures(self) -> dict[str, object]:
        return {
            "db_size": self.db_size,
            "in_use": self.in_use,
            "reclaimable": self.reclaimable,
            "reclaimable_ratio": self.reclaimable_ratio,
            "quota": self.quota,
            "quota_usage": self.quota_usage,
            "is_learner": self.is_learner,
            "is_leader": self.is_leader,
            "MB": MB,
        }


def space_of(facts: ClusterFacts, host: str, quota: int | None) -> Space | None:
    status = facts.status_of(host)
    if status is None:
        return None
    return Space(
        host=host,
        db_size=status.db_size,
        in_use=status.db_size_in_use,
        quota=quota or DEFAULT_QUOTA,
        is_learner=status.is_learner,
        is_leader=status.is_leader,
    )


def defrag_reason(space: Space | None, rule: str) -> str:
    """Why this member should be defragmented under rule ('' = it should not)."""
    if space is None:
        return ""
    expression = RULES.get(rule, rule)
    if not evaluate(expression, space.figures(), where=f"-p rule={rule}"):
        return ""
    return (
        f"{rule if rule in RULES else 'rule'}: {units.size(space.reclaimable)} reclaimable of "
        f"{units.size(space.db_size)} "
        f"({space.reclaimable_ratio:.0%}), quota usage {space.quota_usage:.0%}"
    )


def rule_ok(rule: str) -> bool:
    """The rule is a known name or an expression that evaluates over the figures."""
    return rule_problem(rule) == ""


def rule_problem(rule: str) -> str:
    """Why rule is not a defrag rule ('' when it is): it must be a known name, or an expression
    that evaluates over the figures."""
    try:
        defrag_reason(Space("check", 100 * MB, 10 * MB, DEFAULT_QUOTA, False, False), rule)
    except EtcdopsError as exc:
        return str(exc)
    return ""


RULE_HELP = (
    f"one of {', '.join(RULES)}, or an expression over "
    + ", ".join(Space("x", 0, 0, 0, False, False).figures())
    + " (e.g. 'reclaimable > 10 * MB')"
)
