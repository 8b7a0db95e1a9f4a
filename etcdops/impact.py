"""What a run will do to the cluster, read from its planned steps: the plan's impact header.

Shown above the steps and again next to `Run RUNBOOK on INVENTORY? [y/N]`, kept in the plan's
JSON (`impact`, lines) and so in a saved plan and the HTML report. It answers what an operator
decides on: what stops where and for how long, quorum and the failures tolerated during the worst
step, what is lost or removed, what is set aside and how much space the run takes. A runbook
adds what only it knows with its own `impact:` lines (templates rendered at plan time:
Plan.impact_notes).

Pure: the Plan's steps, actions and facts in, text out. A runbook that changes nothing (status)
has no header.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from etcdops import units
from etcdops.facts.model import quorum
from etcdops.plan import Plan, PlannedStep
from etcdops.steps.copy_aside import Copy, CopyAsideAction
from etcdops.steps.etcd_compact import CompactAction
from etcdops.steps.etcd_defrag import DefragAction
from etcdops.steps.etcd_key import KeyAction
from etcdops.steps.etcd_member import MemberAction
from etcdops.steps.etcd_service import ServiceAction
from etcdops.steps.etcd_snapshot_restore import RestoreAction
from etcdops.steps.move_aside import MoveAsideAction
from etcdops.steps.move_leader import MoveLeaderAction
from etcdops.steps.prune_set_aside import PruneAction as PruneAsideAction
from etcdops.steps.prune_snapshots import PruneAction as PruneSnapshotsAction
from etcdops.steps.remove_file import RemoveAction
from etcdops.steps.swap_dir import SwapDirAction
from etcdops.steps.template import WriteFileAction

LABEL = 10  # the width of a line's label ("stops:", "quorum:", ...)


def changes_something(plan: Plan) -> bool:
    """A step that runs a command that changes something (or a playbook) on some host."""
    return any(
        a.action.commands or s.kind == "playbook"
        for s in plan.steps
        if not s.skipped
        for a in s.actions
    )


def impact_lines(plan: Plan) -> list[str]:
    """The header's lines (empty for a runbook that changes nothing), the runbook's own last."""
    if not changes_something(plan):
        return list(plan.impact_notes)
    sim = simulate(plan)
    lines = [
        *_labelled("stops", stops(plan, sim)),
        *_labelled("quorum", quorum_lines(plan, sim)),
        *_labelled("leader", leader_moves(plan)),
        *_labelled("removed", removed(plan) or ["nothing is deleted"]),
        *_labelled("set aside", set_aside(plan)),
        *_labelled("space", space(plan)),
    ]
    return lines + list(plan.impact_notes)


def _labelled(label: str, items: list[str]) -> list[str]:
    return [f"{(label + ':') if i == 0 else '':<{LABEL}} {item}" for i, item in enumerate(items)]


# ----- the cluster step by step ------------------------------------------------------
@dataclass
class Moment:
    """The cluster during one step: voters, and which of them run etcd (and serve clients)."""

    step: PlannedStep
    voters: set[str]
    serving: set[str]

    @property
    def margin(self) -> int:
        """Voters serving beyond a quorum: the failures still tolerated (negative: no quorum)."""
        return len(self.voters & self.serving) - quorum(len(self.voters))


@dataclass
class Simulation:
    moments: list[Moment] = field(default_factory=list)
    stopped_at: dict[str, PlannedStep] = field(default_factory=dict)  # host -> its stop step
    restarted: dict[str, PlannedStep] = field(default_factory=dict)  # host -> its start step
    # host -> the step marked `clients: back`, for members started while the runbook holds
    # clients off (`clients: stop` before: fenced on client URLs of etcdops' own, say)
    serving_again: dict[str, PlannedStep] = field(default_factory=dict)


def simulate(plan: Plan) -> Simulation:
    """Walk the steps: etcd stopped and started, members added, promoted and removed, and the
    members that stall during a step (a restart, a defragmentation) counted down for that step."""
    facts = plan.facts
    voters = {facts.member_hosts.get(m.id) or m.name for m in facts.voters}
    running = {h for h, hf in facts.hosts.items() if hf.status is not None}
    sim = Simulation()
    held: set[str] | None = None  # started while clients are held off (None: they are not)
    for step in (s for s in plan.steps if not s.skipped):
        stalled: set[str] = set()
        if step.clients == "stop":
            held = set()
        elif step.clients == "back" and held is not None:
            sim.serving_again.update(dict.fromkeys(held, step))
            held = None
        for a in step.actions:
            if isinstance(a.action, ServiceAction):
                _service(sim, step, a.host, a.action.state, running, stalled)
                if held is not None and a.action.state != "stopped":
                    held.add(a.host)
        if step.quorum is not None:
            change, host = step.quorum.change, step.quorum.host
            if change == "new_cluster":  # --force-new-cluster: host alone
                voters = {host}
            elif change == "remove":
                voters.discard(host)
            elif change in ("add", "promote"):
                voters.add(host)
        sim.moments.append(Moment(step, set(voters), running - stalled - (held or set())))
    return sim


def _service(
    sim: Simulation, step: PlannedStep, host: str, state: str, running: set[str], stalled: set[str]
) -> None:
    if state == "stopped":
        running.discard(host)
        sim.stopped_at.setdefault(host, step)
    elif state == "restarted":
        stalled.add(host)  # down while it restarts, serving again after the step
    elif state == "started":
        running.add(host)
        if host in sim.stopped_at:
            sim.restarted.setdefault(host, step)


def worst(sim: Simulation) -> Moment | None:
    return min(sim.moments, key=lambda m: m.margin, default=None)


# ----- the lines ---------------------------------------------------------------------
def stops(plan: Plan, sim: Simulation) -> list[str]:
    out = []
    outage = _outage(plan, sim)
    groups: dict[tuple[int, int | None, int | None], list[str]] = {}
    for host, step in sim.stopped_at.items():
        back, again = sim.restarted.get(host), sim.serving_again.get(host)
        key = (step.index, back.index if back else None, again.index if again else None)
        groups.setdefault(key, []).append(host)
    for (down, up, serving), hosts in sorted(groups.items(), key=lambda g: g[0][0]):
        if up is None:
            out.append(f"etcd on {_names(hosts)} at step {down}, not started again by this run")
            continue
        if serving is not None:
            out.append(
                f"etcd on {_names(hosts)} at step {down}, started again at step {up}, serving "
                f"clients again at step {serving} (held off from them in between)"
            )
            continue
        how_long = "" if outage else _between(plan, down, up)
        out.append(f"etcd on {_names(hosts)} at step {down}, started again at step {up}{how_long}")
    out += outage
    out += _defrags(plan)
    return out or ["nothing: every member keeps serving its clients"]


def _outage(plan: Plan, sim: Simulation) -> list[str]:
    """No quorum from the first step that leaves too few voters running until one gives it back."""
    lost = next((m for m in sim.moments if m.margin < 0), None)
    if lost is None:
        return []
    back = next((m for m in sim.moments if m.step.index > lost.step.index and m.margin >= 0), None)
    if back is None:
        return [
            f"no quorum from step {lost.step.index} to the end of the run: clients have no etcd"
        ]
    waits = (s for s in plan.steps if s.kind == "wait" and not s.skipped)
    healthy = next((s for s in waits if s.index >= back.step.index), None)
    until = (
        f"until step {healthy.index} sees it healthy"
        if healthy
        else f"until step {back.step.index}"
    )
    return [
        f"clients have no etcd (no quorum serving them) from step {lost.step.index} {until}"
        f"{_between(plan, lost.step.index, back.step.index)}"
    ]


def _between(plan: Plan, first: int, last: int) -> str:
    """How long steps first..last take, as far as the plan can tell."""
    known = [s.predicted.seconds for s in plan.steps if first < s.index < last and s.predicted]
    if not known:
        return " (stops, starts and waits in between: not predicted)"
    return (
        f" (the work in between ~{units.seconds(sum(known))} predicted; stops, starts and waits "
        "on top)"
    )


def _defrags(plan: Plan) -> list[str]:
    busy = [
        (a.host, s)
        for s in plan.steps
        if not s.skipped
        for a in s.actions
        if isinstance(a.action, DefragAction)
    ]
    if not busy:
        return []
    each = ", ".join(f"{host}{_predicted_for(step, host)}" for host, step in busy)
    return [
        "while it is defragmented, a member answers none of its own clients, one member at a "
        f"time (if the rule decides it needs it): {each}"
    ]


def _predicted_for(step: PlannedStep, host: str) -> str:
    if step.predicted is None or step.predicted.rate <= 0:
        return ""
    work = next((a.action.work for a in step.actions if a.host == host), 0)
    return f" ~{units.seconds(work / step.predicted.rate)}" if work else ""


def quorum_lines(plan: Plan, sim: Simulation) -> list[str]:
    facts = plan.facts
    now = (
        f"now {len(facts.voters)} voters, quorum {facts.quorum}, "
        f"tolerates {_failures(facts.tolerance)}"
    )
    out = [now, *_membership_changes(plan)]
    bad = worst(sim)
    if bad is None or bad.margin >= facts.tolerance:
        return [*out, "no step lowers the failures tolerated"]
    running = len(bad.voters & bad.serving)
    during = "no quorum" if bad.margin < 0 else f"tolerates {_failures(bad.margin)}"
    out.append(
        f"worst at step {bad.step.index} ({bad.step.name}): {running} of {len(bad.voters)} "
        f"voters serving, quorum {quorum(len(bad.voters))}, {during}"
    )
    return out


def _membership_changes(plan: Plan) -> list[str]:
    """Each membership step's arithmetic, as the step's own quorum line says it."""
    out = []
    for s in plan.steps:
        q = s.quorum
        if q is None or s.skipped:
            continue
        if q.voters_before == q.voters_after:
            out.append(f"step {s.index} ({q.change} {q.host}): a learner does not count")
            continue
        out.append(
            f"step {s.index} ({q.change} {q.host}): voters {q.voters_before} -> "
            f"{q.voters_after}, quorum {q.quorum_before} -> {q.quorum_after}, tolerates "
            f"{q.tolerance_before} -> {_failures(q.tolerance_after)}"
        )
    return out


def _failures(n: int) -> str:
    return f"{n} failure{'s' if n != 1 else ''}"


def leader_moves(plan: Plan) -> list[str]:
    out = []
    leader = plan.facts.leader_host
    moved_away = False
    for s in plan.steps:
        for a in s.actions if not s.skipped else ():
            if not isinstance(a.action, MoveLeaderAction):
                continue
            away = a.action.away_from
            if away and away != leader:  # only if that member leads by then: not as planned
                continue
            moved_away = moved_away or away == leader
            out.append(f"moves to {a.action.to_host} at step {s.index}")
    if leader and leader in _stopped_hosts(plan) and not moved_away:
        out.append(f"{leader} leads now and is stopped: leadership changes")
    return out


def _stopped_hosts(plan: Plan) -> set[str]:
    return {
        a.host
        for s in plan.steps
        if not s.skipped
        for a in s.actions
        if isinstance(a.action, ServiceAction) and a.action.state in ("stopped", "restarted")
    }


def _put_in_place(plan: Plan, restored_at: int) -> int:
    """The step that puts a restored dir where etcd reads its data (the restore itself, when no
    swap follows: it then restored in place)."""
    later = (
        s.index
        for s in plan.steps
        if s.index > restored_at
        and not s.skipped
        and s.actions
        and isinstance(s.actions[0].action, SwapDirAction)
    )
    return next(later, restored_at)


def removed(plan: Plan) -> list[str]:
    out: list[str] = []
    for s in plan.steps:
        if s.skipped:
            continue
        hosts = [a.host for a in s.actions]
        first = s.actions[0].action if s.actions else None
        if isinstance(first, MemberAction) and first.change == "remove":
            out.append(f"the member {first.host} leaves the cluster at step {s.index}")
        elif isinstance(first, KeyAction):
            out.append(f"the key {first.key} is deleted at step {s.index}")
        elif isinstance(first, CompactAction):
            keep = f" except the last {first.retain}" if first.retain else ""
            out.append(
                f"the keyspace's history is compacted at step {s.index}: older revisions{keep} "
                "can no longer be read or watched"
            )
        elif isinstance(first, RestoreAction):
            out.append(
                f"the data of {_names(hosts)} is replaced by the snapshot's at step "
                f"{_put_in_place(plan, s.index)}: "
                "every change made after the snapshot is gone (the old data dirs are set aside)"
            )
        elif isinstance(first, RemoveAction):
            out.append(
                f"{os.path.basename(first.path)} on {_names(hosts)} is deleted at step {s.index}"
            )
        elif isinstance(first, PruneSnapshotsAction):
            doomed = [d.entry for d in first.doomed]
            if doomed:
                total = units.size(sum(e.size for e in doomed))
                out.append(
                    f"{len(doomed)} of this cluster's snapshots ({total}) are deleted at step "
                    f"{s.index}: {', '.join(e.path for e in doomed)}"
                )
        out += _pruned(s)
    return out


def _pruned(s: PlannedStep) -> list[str]:
    out = []
    for a in s.actions:
        if isinstance(a.action, PruneAsideAction) and a.action.remove:
            total = sum(i.bytes for i in a.action.remove)
            out.append(
                f"{len(a.action.remove)} path(s) set aside earlier on {a.host} are deleted for "
                f"good at step {s.index} ({units.size(total)})"
            )
    return out


def set_aside(plan: Plan) -> list[str]:
    """Directories moved aside (kept, never deleted) and files rewritten with a backup."""
    out = []
    for s in plan.steps:
        if s.skipped:
            continue
        moved = [(a.host, src, aside) for a in s.actions for src, aside in _moves(a.action)]
        if moved:
            _host, src, aside = moved[0]
            hosts = sorted({h for h, _, _ in moved})
            where = src if len({m[1] for m in moved}) == 1 else "the data dir"
            out.append(
                f"{where} on {_names(hosts)} as {_suffix(src, aside)} at step "
                f"{s.index}{_db_sizes(plan, hosts)} (kept: `etcdops run prune` removes old ones)"
            )
        copied = [(a.host, c.src, c.dest) for a in s.actions for c in _copies(a.action)]
        if copied:
            hosts = sorted({h for h, _, _ in copied})
            out.append(
                f"the data dir on {_names(hosts)} copied as {_suffix(copied[0][1], copied[0][2])} "
                f"at step {s.index}{_db_sizes(plan, hosts)}, the original left in place (kept: "
                "`etcdops run prune` removes old ones)"
            )
        writes = [(a.host, a.action) for a in s.actions if isinstance(a.action, WriteFileAction)]
        if writes and any(w.diff for _, w in writes):
            first = writes[0][1]
            kept = "the old one kept as .bak-STAMP" if first.backup else "no backup: kept before"
            out.append(
                f"{os.path.basename(first.path)} on {_names(h for h, _ in writes)} is rewritten "
                f"at step {s.index} ({kept})"
            )
    return out or ["nothing"]


def _moves(action: object) -> Iterable[tuple[str, str]]:
    if isinstance(action, MoveAsideAction):
        return [(m.src, m.aside) for m in action.moves]
    if isinstance(action, SwapDirAction):
        return [(sw.current, sw.aside.aside) for sw in action.swaps]
    return []


def _copies(action: object) -> Iterable[Copy]:
    return action.copies if isinstance(action, CopyAsideAction) else ()


def _suffix(src: str, aside: str) -> str:
    """`etcd.pre-restore-STAMP` for /var/lib/etcd → /var/lib/etcd.pre-restore-STAMP."""
    return os.path.basename(aside) if aside.startswith(src) else aside


def _db_sizes(plan: Plan, hosts: list[str]) -> str:
    sizes = [
        hf.status.db_size
        for h in hosts
        if (hf := plan.facts.hosts.get(h)) is not None and hf.status is not None
    ]
    if not sizes:
        return ""
    each = " each" if len(hosts) > 1 else ""
    return f", ~{units.size(max(sizes))}{each} (its database now)"


def space(plan: Plan) -> list[str]:
    """What the run writes per host, and the least free space it leaves on each."""
    if not plan.disk:
        return []
    per_host: dict[str, tuple[int, int, str]] = {}
    for r in plan.disk:
        written, least, mount = per_host.get(r.host, (0, r.free_after, r.mount))
        if r.free_after <= least:
            least, mount = r.free_after, r.mount
        per_host[r.host] = (written + r.bytes, least, mount)
    same: dict[tuple[int, int, str], list[str]] = {}
    for host, figures in per_host.items():
        same.setdefault((figures[0], figures[1] // (1 << 30), figures[2]), []).append(host)
    out = []
    for (written, _gib, mount), hosts in same.items():
        least = min(per_host[h][1] for h in hosts)
        each = " each" if len(hosts) > 1 else ""
        out.append(
            f"writes {units.size(written)}{each} on {_names(hosts)}, leaving at least "
            f"{units.size(least)} free on {mount}"
        )
    return out


def _names(hosts: Iterable[str]) -> str:
    return ", ".join(hosts)
