"""Which snapshots a retention policy keeps, and why: pure, no I/O.

The policy operators expect (restic's and most backup tools' words): keep the newest N
(`keep`), and the newest snapshot of each of the last D days that have one (`daily`, days in
UTC); the newest snapshot a restore drill proved is never deleted, whatever the counts say. A
policy with neither count deletes nothing. The snapshot a run is about to take counts as the
newest (it is planned before it exists): keep=3 keeps it and the two newest before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    keep: int = 0  # the newest N (the one being taken included)
    daily: int = 0  # the newest of each of the last D days that have a snapshot

    @property
    def active(self) -> bool:
        return self.keep > 0 or self.daily > 0

    def describe(self) -> str:
        parts = []
        if self.keep:
            parts.append(f"the newest {self.keep}")
        if self.daily:
            parts.append(f"one per day for {self.daily} day{'s' if self.daily > 1 else ''}")
        return " and ".join(parts) + " (and the newest one a drill proved)" if parts else "all"


@dataclass(frozen=True)
class Candidate:
    key: str  # what the caller knows it by (a path)
    time: dt.datetime  # aware, UTC
    proven: bool = False  # a restore drill proved it


NEW = "(the snapshot this run takes)"


def choose(
    candidates: list[Candidate], policy: Policy, new_at: dt.datetime | None = None
) -> tuple[list[tuple[Candidate, str]], list[Candidate]]:
    """(kept with the reason, deleted), newest first. new_at: the time of a snapshot being taken
    now, which counts as the newest but is neither returned nor deleted."""
    if not policy.active:
        return [(c, "no retention asked (keep=0, daily=0)") for c in _newest_first(candidates)], []
    ordered = _newest_first(candidates)
    every = ([Candidate(NEW, new_at)] if new_at is not None else []) + ordered
    reasons: dict[str, str] = {}
    for index, item in enumerate(every[: policy.keep]):
        reasons.setdefault(item.key, f"one of the newest {policy.keep} (#{index + 1})")
    days: list[dt.date] = []
    for item in every:
        day = item.time.astimezone(dt.UTC).date()
        if day in days:
            continue
        if len(days) >= policy.daily:
            break
        days.append(day)
        reasons.setdefault(item.key, f"the newest of {day.isoformat()} (daily={policy.daily})")
    proven = next((c for c in ordered if c.proven), None)
    if proven is not None:
        reasons.setdefault(proven.key, "the newest snapshot a restore drill proved")
    kept = [(c, reasons[c.key]) for c in ordered if c.key in reasons]
    deleted = [c for c in ordered if c.key not in reasons]
    return kept, deleted


def _newest_first(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.time, c.key), reverse=True)
