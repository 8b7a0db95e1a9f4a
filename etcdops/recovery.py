"""What recover decides from: which member holds the most data, and what every member says (or last
said) about its raft index and revision. Pure but for reading earlier runs' saved plans.

A cluster that has lost its quorum still answers endpoint status on each running member: its
raft index, applied index and revision, without a leader. The member that has applied the most
(then the highest revision) has every write the cluster acknowledged that any survivor has: a
write is acknowledged once a quorum has it, and the survivors of that quorum include the one
furthest ahead. Members whose etcd does not answer are shown with what they last reported to
etcdops, where an earlier run's plan recorded it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etcdops import paths
from etcdops.facts.model import ClusterFacts
from etcdops.limits import LimitError, check_json_depth, check_size

MAX_PLANS = 200  # saved plans read, newest first, for what members last reported
MAX_PLAN_BYTES = 8 * 1024 * 1024


def most_data(facts: ClusterFacts) -> str:
    """The host whose etcd answered with the highest applied index, then revision (then name, so
    that the choice is the same on every read); "" when no member's etcd answered."""
    answered = [
        (hf.status.applied_index, hf.status.revision, name)
        for name, hf in facts.hosts.items()
        if hf.status is not None
    ]
    if not answered:
        return ""
    return sorted(answered, key=lambda a: (-a[0], -a[1], a[2]))[0][2]


def last_reported(inventory: str, runs: Path | None = None) -> dict[str, dict[str, Any]]:
    """{host: {"time", "applied_index", "revision"}}: the newest figures each member's etcd gave
    a plan of an earlier run on this inventory (its saved plan.json), for members that do not
    answer now. Bounded: the newest MAX_PLANS plans, each at most MAX_PLAN_BYTES."""
    folder = runs if runs is not None else paths.runs_dir()
    try:
        plans = sorted(folder.glob("*/plan.json"), key=lambda p: p.parent.name, reverse=True)
    except OSError:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for path in plans[:MAX_PLANS]:
        try:
            if path.stat().st_size > MAX_PLAN_BYTES:
                continue
            text = path.read_text()
            check_size(text, str(path), MAX_PLAN_BYTES)
            data = json.loads(text)
            check_json_depth(data, str(path))
        except (OSError, ValueError, LimitError):
            continue
        if not isinstance(data, dict) or data.get("inventory") != inventory:
            continue
        cluster = data.get("cluster")
        for e in (cluster.get("endpoints") if isinstance(cluster, dict) else None) or []:
            if not isinstance(e, dict) or e.get("applied_index") is None:
                continue
            found.setdefault(
                str(e.get("host")),
                {
                    "time": data.get("created"),
                    "applied_index": e.get("applied_index"),
                    "revision": e.get("revision"),
                },
            )
    return found


def survey(
    facts: ClusterFacts, hosts: list[str], source: str, last: dict[str, dict[str, Any]]
) -> list[str]:
    """One line per host: what its etcd says now (applied index, revision) or why it does not,
    and what it last reported; the source marked."""
    lines = []
    for name in hosts:
        hf = facts.hosts.get(name)
        mark = " <- recovered from" if name == source else ""
        if hf is not None and hf.status is not None:
            s = hf.status
            lines.append(
                f"{name}: applied index {s.applied_index}, raft index {s.raft_index}, revision "
                f"{s.revision}{mark}"
            )
            continue
        why = "SSH failed" if hf is not None and not hf.reachable else "etcd does not answer"
        seen = last.get(name)
        then = (
            f"; last reported {seen['time']}: applied index {seen['applied_index']}, revision "
            f"{seen['revision']}"
            if seen
            else "; etcdops has no earlier figures"
        )
        lines.append(f"{name}: {why}{then}{mark}")
    return lines
