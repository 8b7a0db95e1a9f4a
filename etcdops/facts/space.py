"""Space figures per member (db size, in use, reclaimable, quota), the defrag rule over them, and
when a member's figures after a compaction can be believed (Settling).

etcd reports a member's space in use as its size less bbolt's free pages, read when a write
transaction begins (mvcc/backend: `size - FreePageN * PageSize`, 3.4-3.6). bbolt counts the pages
a transaction frees as pending, not free, until no read transaction older than it is open, and
updates its free count only when a later write transaction closes. So the pages a compaction's
last delete batches free show as in use until the member has committed one or two more write
transactions. A busy member does within ~0.1 s; a quiet one never does: measured on the 4-member
lab (etcd 3.5.16), 300 revisions of 200 KB compacted, every follower showed 128.0 MiB in use for
as long as nothing was written (checked for 4 s) and 70.6 MiB after the next write (one commit; 2
commits on one member once); the member asked (whose `compact --physical` commits once more at
the end) showed 70.6 MiB at once. A member told to have finished deleting by its compaction
counters is therefore read again until its backend has committed SETTLE_COMMITS times since, and
its space in use stopped shrinking between the last two of those reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.errors import EtcdopsError
from etcdops.facts.model import ClusterFacts
from etcdops.templating import evaluate

MB = 1 << 20
SHRINK_STEP = 256 * 1024  # bytes: in use shrinking less than this between reads counts as calm
SETTLED_READS = 3  # calm reads, each after a commit, when no commit counter can tell
SETTLE_COMMITS = 2  # backend commits after a member finished deleting before its figures count
# how a member was told to have finished deleting a compaction
COUNTERS = "counters"
SPACE = "space"
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


@dataclass
class Settling:
    """One member's figures after a compaction, read until they count what it freed. Pure: fed
    each read (space in use, backend commits or None without a counter, whether its compaction
    counters say it finished, whether etcdops made every member commit since the last read).

    `finished`: how it was told to have finished deleting (COUNTERS, SPACE; '' not yet). By
    COUNTERS: then settled once its commits are SETTLE_COMMITS past those of that read, unless
    its space in use shrank since a read that already followed a commit (still moving). By SPACE
    (no counters): its space in use shrank less than SHRINK_STEP over SETTLED_READS reads, each
    after a commit (a quiet member's figure does not move without one), which settles it too.
    `stalled`: nothing moved since the last read (no commit, no shrinking): a write is needed."""

    finished: str = ""
    base: int | None = None  # its commits when it was told to have finished
    settled: bool = False
    stalled: bool = False
    calm: int = 0
    last: tuple[int | None, int] | None = None  # (commits, in use) of the previous read

    def observe(self, in_use: int, commits: int | None, counters: bool, nudged: bool) -> None:
        last = self.last
        committed = (
            commits is not None and last is not None and last[0] is not None and commits > last[0]
        ) or (commits is None and nudged)
        shrank = last is not None and last[1] - in_use >= SHRINK_STEP
        self.stalled = not self.settled and last is not None and not committed and not shrank
        if not self.finished and counters:
            # told now: nothing it freed need count yet, and nothing moves on a quiet member
            self.finished, self.base, self.stalled = COUNTERS, commits, True
        elif not self.finished or (self.finished == COUNTERS and self.base is None):
            # the space rule: no counter to count commits with (or none to finish by)
            self.calm = self.calm + 1 if committed and not shrank else 0 if shrank else self.calm
            if self.calm >= SETTLED_READS:
                self.finished = self.finished or SPACE
                self.settled = True
        elif self.finished == COUNTERS and not self.settled and commits is not None:
            base = self.base or 0
            # a figure still moving since a read that already followed a commit waits for the next
            moving = last is not None and last[0] is not None and last[0] > base and shrank
            self.settled = commits >= base + SETTLE_COMMITS and not moving
        self.last = (commits, in_use)


def judged_on(space: Space, settled: str) -> str:
    """The figures a decision was made on, in words (a skipped member says them)."""
    return (
        f"db size {units.size(space.db_size)}, in use {units.size(space.in_use)}, "
        f"{units.size(space.reclaimable)} reclaimable ({space.reclaimable_ratio:.0%}), quota "
        f"usage {space.quota_usage:.0%}; {settled}"
    )
