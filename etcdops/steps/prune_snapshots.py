"""`prune_snapshots`: apply a retention policy to this cluster's snapshots, in a directory of the
control node and (with `remote`) in an off-site copy.

Only snapshots etcdops wrote for this cluster are candidates: `PREFIX-revREV-STAMP.db` with its
metadata beside it naming this cluster's id and that revision (catalog.Entry.ours). Another
cluster's snapshot, a file without metadata, a symlink or anything else in the directory is
never touched, and the plan says why each is left alone. The candidates are listed when the plan
is made (before this run's own snapshot exists, which counts as the newest); the plan shows every
path it deletes, and the run deletes only those, each only if it is still there unchanged and
still this cluster's (and not since become the newest one a drill proved).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from etcdops import catalog, offsite, units
from etcdops.catalog import Entry
from etcdops.commands import Command, sh
from etcdops.errors import BadInput
from etcdops.retention import Candidate, Policy, choose
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.transport.local import CONTROL


@dataclass(frozen=True)
class PruneSpec:
    dir: str = spec_field("the snapshot directory on the control node")
    cluster_id: str = spec_field("the cluster (hex id) whose snapshots are pruned; no other's")
    prefix: str = spec_field("the file names' prefix (NAME of NAME-revREV-STAMP.db)", "")
    keep: int = spec_field("keep the newest N (0: no such rule)", 0, minimum=0)
    daily: int = spec_field("keep the newest of each of the last D days (0: none)", 0, minimum=0)
    remote: str = spec_field("also prune REMOTE:PATH (rclone) with the same policy", "")
    counting_new: bool = spec_field("the snapshot this run takes counts as the newest", True)


@dataclass(frozen=True)
class Doomed:
    """One snapshot to delete: its files, and what they were when planned."""

    entry: Entry
    commands: tuple[Command, ...]


@dataclass(frozen=True, kw_only=True)
class PruneAction(Action):
    policy: Policy
    cluster_id: str
    prefix: str
    dir: str
    remote: str
    tool: str
    doomed: tuple[Doomed, ...] = ()
    kept: tuple[tuple[str, str], ...] = field(default=())  # (path, why)
    left: tuple[tuple[str, str], ...] = field(default=())  # (path, why it is not a candidate)

    def describe(self) -> list[str]:
        lines = [self.intent]
        for doomed in self.doomed:
            e = doomed.entry
            for command in doomed.commands:
                lines.append(f"$ {command.display}")
            lines[-1] += f"   # revision {e.revision}, {units.size(e.size)}, {_age(e)} old"
        lines += [f"? {c.display}" for c in self.reads]
        lines += [f"  keeps {path}: {why}" for path, why in self.kept]
        lines += [f"  leaves alone {path}: {why}" for path, why in self.left]
        return lines


class PruneSnapshotsKind(StepKind[PruneSpec, PruneAction]):
    name = "prune_snapshots"
    summary = (
        "delete this cluster's snapshots a retention policy does not keep (newest N, one per day "
        "for D days, the newest drill-proven); nothing else"
    )
    Spec = PruneSpec
    default_target = "control"
    default_timeout = 600.0

    def plan(self, spec: PruneSpec, ctx: StepContext) -> PruneAction:
        policy = Policy(spec.keep, spec.daily)
        if not spec.cluster_id:
            raise ctx.error("prune_snapshots: the cluster id is unknown: nothing can be told ours")
        tool = offsite.rclone_binary() if spec.remote else ""
        where = None
        if spec.remote:
            where = _remote(ctx, spec.remote, tool)
        new_at = _run_time(ctx.run.time) if spec.counting_new else None
        groups = [catalog.local_entries(spec.dir)]
        if where is not None:
            try:
                groups.append(
                    catalog.remote_entries(where, lambda c: ctx.probe.run(CONTROL, c), tool)
                )
            except BadInput as exc:
                raise ctx.error(f"prune_snapshots: {exc}") from None
        doomed: list[Doomed] = []
        kept: list[tuple[str, str]] = []
        left: list[tuple[str, str]] = []
        # a drill proves bytes, wherever they lie: a local drill proves the off-site copy too
        proven = {e.sha256 for entries in groups for e in entries if e.proven}
        for entries in groups:
            ours = [e for e in entries if not e.ours(spec.cluster_id, spec.prefix)]
            left += [
                (e.path, e.ours(spec.cluster_id, spec.prefix)) for e in entries if e not in ours
            ]
            by_path = {e.path: e for e in ours}
            candidates = [Candidate(e.path, e.time, e.sha256 in proven) for e in ours]
            keep, delete = choose(candidates, policy, new_at)
            kept += [(c.key, why) for c, why in keep]
            doomed += [Doomed(by_path[c.key], _deletes(by_path[c.key], tool)) for c in delete]
        places = spec.dir + (f" and {spec.remote}" if spec.remote else "")
        intent = (
            f"of cluster {spec.cluster_id}'s snapshots in {places}, keep {policy.describe()}: "
            + (f"delete {len(doomed)}" if doomed else "nothing to delete")
        )
        reads = (
            (offsite.listing(tool, where), offsite.metadata_copy(tool, where))
            if where is not None
            else ()
        )
        return PruneAction(
            intent=intent,
            commands=tuple(c for d in doomed for c in d.commands),
            reads=reads,
            policy=policy,
            cluster_id=spec.cluster_id,
            prefix=spec.prefix,
            dir=spec.dir,
            remote=str(where) if where is not None else "",
            tool=tool,
            doomed=tuple(doomed),
            kept=tuple(kept),
            left=tuple(left),
        )

    def execute(self, action: PruneAction, ex: ExecContext) -> Outcome:
        if not action.doomed:
            return Outcome.ok("nothing to delete")
        now = catalog.local_entries(action.dir)
        if action.remote:
            where = offsite.parse_remote(action.remote)
            now += catalog.remote_entries(
                where, lambda c: ex.run(c, host=CONTROL, check=False), action.tool
            )
        current = {e.path: e for e in now}
        proven = _newest_proven(now, action.cluster_id, action.prefix)
        deleted, skipped, freed = [], [], 0
        for doomed in action.doomed:
            why = _still(doomed.entry, current.get(doomed.entry.path), action, proven)
            if why:
                skipped.append(f"{doomed.entry.path}: {why}")
                continue
            for command in doomed.commands:
                ex.run(command, host=CONTROL)
            deleted.append(doomed.entry.path)
            freed += doomed.entry.size
        lines = [f"deleted {p}" for p in deleted] + [f"left {s}" for s in skipped]
        report = {"deleted": deleted, "left": skipped, "bytes_freed": freed}
        if not deleted:
            return Outcome.ok("\n".join(lines), report=report)
        return Outcome.changed("\n".join(lines), report=report)


def _remote(ctx: StepContext, value: str, tool: str) -> offsite.RemotePath:
    try:
        where = offsite.parse_remote(value, "prune_snapshots.remote")
    except BadInput as exc:
        raise ctx.error(str(exc)) from None
    if not tool:
        raise ctx.error("prune_snapshots.remote: rclone is not installed on the control node")
    return where


def _deletes(entry: Entry, tool: str) -> tuple[Command, ...]:
    """The snapshot itself first and its metadata last: a run cut short between the two leaves a
    few hundred bytes of metadata, never a snapshot without it (which nothing could tell ours)."""
    meta = entry.base + catalog.META
    names = [entry.name, *(n for n in entry.files[1:] if n != meta), meta]
    if entry.remote:
        where = offsite.parse_remote(entry.location)
        return tuple(offsite.delete(tool, where.child(n)) for n in names)
    return (sh("rm", "-f", "--", *(entry.path_of(n) for n in names)),)


def _still(planned: Entry, now: Entry | None, action: PruneAction, proven: set[str]) -> str:
    """'' when the snapshot may still be deleted; else why it is left."""
    if now is None:
        return "no longer there"
    why = now.ours(action.cluster_id, action.prefix)
    if why:
        return f"no longer this cluster's snapshot: {why}"
    if (now.size, now.mtime_ns, now.sha256) != (planned.size, planned.mtime_ns, planned.sha256):
        return "changed since the plan was made"
    if now.path in proven:
        return "it is now the newest snapshot a drill proved"
    return ""


def _newest_proven(entries: list[Entry], cluster_id: str, prefix: str) -> set[str]:
    """Per location, the newest of this cluster's snapshots a drill proved (anywhere)."""
    shas = {e.sha256 for e in entries if e.proven}
    newest: dict[str, Entry] = {}
    for e in entries:
        if e.ours(cluster_id, prefix) or e.sha256 not in shas:
            continue
        if e.location not in newest or (e.time, e.name) > (
            newest[e.location].time,
            newest[e.location].name,
        ):
            newest[e.location] = e
    return {e.path for e in newest.values()}


def _run_time(text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _age(entry: Entry) -> str:
    seconds = catalog.file_age(entry)
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 3600:.1f} hours"
