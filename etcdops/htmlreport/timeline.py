"""What a run's journal says happened when: per host spans of each step, the leader over time, and
the window during which clients had no etcd. Pure functions over the report, plan and events
(no matplotlib, no I/O); charts.py draws them and page.py writes them out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]


@dataclass(frozen=True)
class Span:
    """One host's part of one step, from its host_started to its host_finished/host_failed event."""

    step: int
    host: str
    start: dt.datetime
    end: dt.datetime
    status: (
        str  # changed, ok, skipped, unreachable, failed, unfinished (the journal ends inside it)
    )

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Attempt:
    """One execution of the run: the first, then one per --resume."""

    number: int
    start: dt.datetime
    end: dt.datetime
    spans: tuple[Span, ...]
    resumed: bool


@dataclass(frozen=True)
class Outage:
    """A time when fewer members ran etcd than a quorum needs, so that no client could read or
    write.

    lost_early..lost_late: the stop of the member that took quorum away began / was verified done;
    back: the start command that gave quorum back returned; healthy: the next health wait saw a
    leader and every member healthy (None when no wait followed; open: etcd was not started again).
    """

    lost_early: dt.datetime
    lost_late: dt.datetime
    lost_host: str
    back: dt.datetime
    back_by: (
        str  # what gave quorum back: "etcd started on HOST", "HOST removed from the members", ...
    )
    healthy: dt.datetime | None
    healthy_step: int | None
    open: bool
    voters: int
    tolerated: int

    @property
    def at_most(self) -> float:
        return ((self.healthy or self.back) - self.lost_early).total_seconds()

    @property
    def at_least(self) -> float:
        return max(0.0, (self.back - self.lost_late).total_seconds())


@dataclass(frozen=True)
class Downtime:
    """etcd down on one member: its stop began, was verified, its start returned (None: not started
    again)."""

    host: str
    stop_began: dt.datetime
    stopped: dt.datetime
    started: dt.datetime | None

    @property
    def seconds(self) -> float | None:
        return (self.started - self.stop_began).total_seconds() if self.started else None


def when(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


# ----- spans and attempts ------------------------------------------------------
def attempts(events: list[Event]) -> list[Attempt]:
    """The journal split at each run_started: one attempt per execution, each with its host
    spans."""
    timed = [e for e in events if _time(e) is not None]
    if not timed:
        return []
    starts: list[int] = []
    for i, e in enumerate(timed):
        if e.get("event") == "run_started":
            while i > (starts[-1] + 1 if starts else 0) and timed[i - 1].get("event") in (
                "run_resumed",
                "leader",
            ):
                # the notes journaled just before it (the leader seen, the resume) belong to it
                i -= 1
            starts.append(i)
    starts = [0, *starts[1:]] if starts else [0]  # anything before the first belongs to the first
    out = []
    for n, (a, b) in enumerate(zip(starts, [*starts[1:], len(timed)], strict=True)):
        chunk = timed[a:b]
        resumed = n > 0 or any(e.get("event") == "run_resumed" for e in chunk)
        first, last = _time(chunk[0]), _time(chunk[-1])
        assert first is not None and last is not None
        out.append(Attempt(n + 1, first, last, tuple(_spans(chunk)), resumed))
    return out


def _time(e: Event) -> dt.datetime | None:
    try:
        return when(str(e["time"]))
    except (KeyError, ValueError):
        return None


def _spans(chunk: list[Event]) -> list[Span]:
    opened: dict[tuple[int, str], dt.datetime] = {}
    spans = []
    for e in chunk:
        kind, t = e.get("event"), _time(e)
        if t is None or "step" not in e or "host" not in e:
            continue
        key = (int(e["step"]), str(e["host"]))
        if kind == "host_started":
            opened[key] = t
        elif kind in ("host_finished", "host_failed"):
            status = "failed" if kind == "host_failed" else str(e.get("status", "?"))
            spans.append(Span(key[0], key[1], opened.pop(key, t), t, status))
    last = _time(chunk[-1])
    assert last is not None
    spans += [Span(step, host, start, last, "unfinished") for (step, host), start in opened.items()]
    return sorted(spans, key=lambda s: (s.start, s.step))


def host_order(spans: list[Span], plan: dict[str, Any] | None) -> list[str]:
    """Rows of the timeline: the cluster's members in the plan's order, then other hosts, `control`
    last."""
    seen = [s.host for s in spans]
    members = [
        str(m.get("host"))
        for m in ((plan or {}).get("cluster") or {}).get("members", [])
        if m.get("host")
    ]
    rows = [h for h in sorted(set(members), key=_natural) if h in seen]
    rows += [h for h in dict.fromkeys(seen) if h not in rows and h != "control"]
    return rows + (["control"] if "control" in seen else [])


def _natural(name: str) -> list[Any]:
    """node2 before node10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


# ----- leader ------------------------------------------------------------------
def leader_changes(
    report: dict[str, Any], events: list[Event]
) -> list[tuple[dt.datetime, str | None]]:
    """When the run saw the leader change (the journal's, else the report's: a resumed run's report
    has only its last attempt's)."""
    noted = [
        (t, e.get("leader"))
        for e in events
        if e.get("event") == "leader" and (t := _time(e)) is not None
    ]
    if not noted:
        noted = [
            (when(c["time"]), c.get("leader"))
            for c in report.get("leader_changes") or []
            if c.get("time")
        ]
    out: list[tuple[dt.datetime, str | None]] = []
    for t, leader in sorted(noted, key=lambda x: x[0]):
        if not out or out[-1][1] != leader:
            out.append((t, leader))
    return out


def leader_segments(
    changes: list[tuple[dt.datetime, str | None]], end: dt.datetime, outages: list[Outage]
) -> list[tuple[dt.datetime, dt.datetime, str | None]]:
    """(from, to, leader) over the run; no leader while quorum was certainly gone (an outage's
    lost_late..back), whatever the last read said before it."""
    segments = []
    for (t, leader), nxt in zip(changes, [*changes[1:], (end, None)], strict=True):
        if nxt[0] > t:
            segments.append((t, nxt[0], leader))
    for o in outages:
        cut = []
        for a, b, leader in segments:
            if b <= o.lost_late or a >= o.back:
                cut.append((a, b, leader))
                continue
            if a < o.lost_late:
                cut.append((a, o.lost_late, leader))
            cut.append((max(a, o.lost_late), min(b, o.back), None))
            if b > o.back:
                cut.append((o.back, b, leader))
        segments = cut
    return segments


# ----- etcd stopped and started -------------------------------------------------
def service_states(plan: dict[str, Any] | None) -> dict[tuple[int, str], str]:
    """(step, host) -> stopped | started | restarted for the plan's etcd_service actions (the plan
    record keeps each action's intent line, which says which)."""
    out = {}
    for s in (plan or {}).get("steps", []):
        if s.get("kind") != "etcd_service":
            continue
        for a in s.get("actions", []):
            intent = (a.get("describe") or [""])[0]
            state = next(
                (
                    v
                    for k, v in (
                        ("stop etcd", "stopped"),
                        ("start etcd", "started"),
                        ("restart etcd", "restarted"),
                    )
                    if intent.startswith(k)
                ),
                None,
            )
            if state:
                out[(int(s["index"]), str(a.get("host")))] = state
    return out


def downtimes(spans: list[Span], plan: dict[str, Any] | None) -> list[Downtime]:
    """Per member, each time this run stopped etcd there, until it started it again."""
    states = service_states(plan)
    out: list[Downtime] = []
    down: dict[str, Span] = {}
    for s in sorted(spans, key=lambda s: s.end):
        state = states.get((s.step, s.host))
        if state is None or s.status in ("skipped", "unreachable"):
            continue
        if state == "restarted" and s.status != "ok":
            out.append(Downtime(s.host, s.start, s.start, s.end))
        elif state == "stopped" and s.status == "changed":
            down[s.host] = s
        elif state == "started" and s.host in down and s.status == "changed":
            stop = down.pop(s.host)
            out.append(Downtime(s.host, stop.start, stop.end, s.end))
    out += [Downtime(h, s.start, s.end, None) for h, s in down.items()]
    return sorted(out, key=lambda d: d.stop_began)


def outages(spans: list[Span], plan: dict[str, Any] | None, run_end: dt.datetime) -> list[Outage]:
    """When fewer voters ran etcd than a quorum needs (derived from the etcd_service steps' times
    and the plan's membership arithmetic)."""
    voters = _voters(plan)
    changes = _membership_changes(plan)
    waits = sorted(
        (s for s in spans if _kind(plan, s.step) == "wait" and s.status in ("ok", "changed")),
        key=lambda s: s.end,
    )
    # (time, order, what, host, early)
    marks: list[tuple[dt.datetime, int, str, str, dt.datetime]] = []
    for d in downtimes(spans, plan):
        marks.append((d.stopped, 1, "down", d.host, d.stop_began))
        if d.started is not None:
            marks.append((d.started, 0, "up", d.host, d.started))
    for s in spans:  # a membership change counts once its step's host action finished
        if s.status == "changed" and s.step in changes:
            change, host = changes[s.step]
            marks.append((s.end, 2, change, host, s.end))
    down: set[str] = set()
    found: list[Outage] = []
    lost: tuple[dt.datetime, dt.datetime, str] | None = None
    for t, _order, what, host, early in sorted(marks, key=lambda m: (m[0], m[1])):
        if what == "down":
            down.add(host)
        elif what == "up":
            down.discard(host)
        elif what == "remove":
            voters.discard(host)
        elif what in ("add", "promote"):
            voters.add(host)
        short = len(down & voters) > _tolerated(len(voters))
        if short and lost is None:
            lost = (early, t, host)
        elif not short and lost is not None:
            healthy = next((w for w in waits if w.end >= t), None)
            found.append(
                Outage(
                    lost[0],
                    lost[1],
                    lost[2],
                    t,
                    BACK_BY[what].format(host),
                    healthy.end if healthy else None,
                    healthy.step if healthy else None,
                    False,
                    len(voters),
                    _tolerated(len(voters)),
                )
            )
            lost = None
    if lost is not None:
        found.append(
            Outage(
                lost[0],
                lost[1],
                lost[2],
                run_end,
                "",
                None,
                None,
                True,
                len(voters),
                _tolerated(len(voters)),
            )
        )
    return found


BACK_BY = {
    "up": "etcd started on {}",
    "remove": "{} removed from the members",
    "add": "{} added",
    "promote": "{} promoted",
    "add_learner": "{} added as a learner",
    "down": "{} stopped",
}


def _tolerated(voters: int) -> int:
    return (voters - 1) // 2


def _voters(plan: dict[str, Any] | None) -> set[str]:
    members = ((plan or {}).get("cluster") or {}).get("members", [])
    return {str(m["host"]) for m in members if m.get("host") and m.get("role", "voter") == "voter"}


def _membership_changes(plan: dict[str, Any] | None) -> dict[int, tuple[str, str]]:
    return {
        int(s["index"]): (str(s["quorum"]["change"]), str(s["quorum"]["host"]))
        for s in (plan or {}).get("steps", [])
        if s.get("quorum")
    }


def _kind(plan: dict[str, Any] | None, step: int) -> str | None:
    return next(
        (s.get("kind") for s in (plan or {}).get("steps", []) if s.get("index") == step), None
    )


# ----- figures from the report ---------------------------------------------------
@dataclass(frozen=True)
class MemberSize:
    host: str
    before: int | None
    after: int | None
    in_use_before: int | None
    in_use_after: int | None
    # the defragmentation's own figures: before, after, seconds
    defrag: tuple[int, int, float] | None
    source: str


def member_sizes(report: dict[str, Any]) -> list[MemberSize]:
    """db size per member before and after: the cluster status read before and after the run, and a
    defragmentation's own figures where it ran (an `after` read is only there when asked for)."""
    before = {
        e["host"]: e for e in (report.get("before") or {}).get("endpoints", []) if e.get("host")
    }
    after = {
        e["host"]: e for e in (report.get("after") or {}).get("endpoints", []) if e.get("host")
    }
    defrag = {}
    for s in report.get("steps", []):
        for h in s.get("hosts", []):
            for r in h.get("report") or []:
                if isinstance(r, dict) and "db_before" in r and "db_after" in r:
                    defrag[str(r.get("member") or h["host"])] = (
                        int(r["db_before"]),
                        int(r["db_after"]),
                        float(r.get("seconds") or 0.0),
                    )
    out = []
    for host in [
        *before,
        *(h for h in after if h not in before),
        *(h for h in defrag if h not in before),
    ]:
        b, a, d = before.get(host, {}), after.get(host, {}), defrag.get(host)
        if a.get("db_size") is not None:
            size_after = a.get("db_size")
        elif d:
            size_after = d[1]
        else:
            size_after = None
        if a.get("db_size") is not None:
            source = "status after the run"
        elif d:
            source = "the defragmentation"
        else:
            source = "-"
        out.append(
            MemberSize(
                host,
                b.get("db_size") if b.get("db_size") is not None else (d[0] if d else None),
                size_after,
                b.get("db_size_in_use"),
                a.get("db_size_in_use"),
                d,
                source,
            )
        )
    return [m for m in out if m.before is not None or m.after is not None]


@dataclass(frozen=True)
class Prediction:
    step: int
    name: str
    predicted: float
    actual: float
    bytes: int
    rate: float
    samples: int
    status: str


def predictions(report: dict[str, Any]) -> list[Prediction]:
    return [
        Prediction(
            int(s["index"]),
            str(s["name"]),
            float(s["predicted"]["seconds"]),
            float(s["elapsed"]),
            int(s["predicted"].get("bytes") or 0),
            float(s["predicted"].get("rate") or 0),
            int(s["predicted"].get("samples") or 0),
            str(s["status"]),
        )
        for s in report.get("steps", [])
        if isinstance(s.get("predicted"), dict)
    ]
