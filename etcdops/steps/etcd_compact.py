"""`etcd_compact`: compact the keyspace, then wait until every member has applied it and finished
deleting the old revisions."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import CommandFailed, StepFailed
from etcdops.facts import gateway
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import (
    parse_status,
)
from etcdops.facts.space import (
    COUNTERS,
    SETTLE_COMMITS,
    SETTLED_READS,
    SHRINK_STEP,
    SPACE,
    Settling,
)
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import (
    ENDPOINTS,
    SETTLED,
    Nudges,
    endpoints_of,
    gateway_answers,
    gateway_ask,
    host_of_url,
    nudge_commands,
    read_status,
    reads,
)
from etcdops.steps.spec import spec_field

APPLY_TIMEOUT = 40.0  # s for a compaction to reach a member (it is in raft once compact returns)
SETTLE_TIMEOUT = 180.0  # s for a member to finish deleting the compacted revisions


@dataclass(frozen=True)
class CompactSpec:
    retain: int = spec_field(
        "keep the last N revisions (compact at the current revision - N)", 0, minimum=0
    )
    wait: bool = spec_field("wait until every member has applied it", True)
    settle: bool = spec_field(
        "with wait, also until every member's space figures count what it freed (what a rule "
        "deciding on them needs; a quiet member is made to commit with a lease)",
        True,
    )


@dataclass(frozen=True, kw_only=True)
class CompactAction(Action):
    etcd: EtcdConfig
    retain: int
    wait: bool
    settle: bool
    endpoints: tuple[str, ...]
    compact: Command  # its revision (and with wait, its timeout) filled in when it runs


def reached_read(etcd: EtcdConfig) -> Command:
    """A serializable read of revision 1 on one member: refused as compacted once the compaction has
    reached it (where the gateway cannot tell)."""
    return etcdctl(etcd, "get", "x", "--rev=1", "--consistency=s", endpoints=ENDPOINTS).reads()


class EtcdCompactKind(StepKind[CompactSpec, CompactAction]):
    name = "etcd_compact"
    summary = "compact at the current revision (- retain), wait until every member applied it"
    Spec = CompactSpec
    shorthand = "retain"
    default_timeout = 600.0

    def plan(self, spec: CompactSpec, ctx: StepContext) -> CompactAction:
        etcd = ctx.etcd
        endpoints = endpoints_of(ctx.inventory)
        now = ctx.facts.revision
        at = f"revision {now - spec.retain}" if now else "the current revision"
        if spec.retain:
            at += f" (the current one, {now}, read again right before, minus {spec.retain} kept)"
        else:
            at += " (the current one, read again right before)"
        intent = f"compact at {at}"
        if spec.wait:
            intent += (
                ", then wait until every member says revision 1 is compacted and has finished "
                "deleting the old revisions (its compaction counters have grown by as many "
                "revisions as the member asked deleted; else its space in use has stopped "
                f"shrinking, {SETTLED_READS} reads under {SHRINK_STEP // 1024} KiB apart, each "
                "after a commit)"
            )
        if spec.wait and spec.settle:
            intent += (
                " and its space figures count what it freed (its backend has committed "
                f"{SETTLE_COMMITS} write transactions since: where a member is quiet, a lease "
                "granted and revoked at once makes every member commit one)"
            )
        compact = self._compact(etcd, spec.wait)
        return CompactAction(
            intent=intent,
            commands=(compact, *(nudge_commands(etcd) if spec.wait else ())),
            reads=(*reads(etcd), *((reached_read(etcd),) if spec.wait else ())),
            etcd=etcd,
            retain=spec.retain,
            wait=spec.wait,
            settle=spec.settle,
            endpoints=tuple(endpoints),
            compact=compact,
        )

    def execute(self, action: CompactAction, ex: ExecContext) -> Outcome:
        endpoints = list(action.endpoints)
        # the revision, and every member's compaction counters before (they tell when it has
        # finished)
        answers = (
            gateway_ask(
                ex,
                action.etcd,
                [("status", action.etcd.client_url)]
                + [("metrics", u) for u in endpoints if action.wait],
            )
            or {}
        )
        mine = gateway.status_of(answers.get(("status", action.etcd.client_url)))
        revision = (
            parse_status(action.etcd.client_url, mine) if mine else read_status(ex, action.etcd)[0]
        ).revision
        target = revision - action.retain
        if target < 2:
            return Outcome.ok(f"revision {revision}: nothing to compact")
        # the same bound as the reads that follow a compaction without --physical
        bound = int(max(10.0, min(ex.remaining(), APPLY_TIMEOUT + SETTLE_TIMEOUT)))
        timeout = {"TIMEOUT": f"{bound}s"} if action.wait else {}
        compact = action.compact.fill(REVISION=target, **timeout)
        result = ex.run(compact, check=False)
        if result.ok:
            done = f"compacted at revision {target}"
        elif "compacted" in result.stderr:
            done = f"already compacted at or beyond revision {target}"
        elif action.wait and "deadline exceeded" in result.stderr:
            raise StepFailed(
                ex.step,
                ex.host,
                f"etcdctl compact {target} --physical did not return within {bound}s: "
                f"{ex.host}'s member has not finished deleting the compacted revisions, or does "
                "not "
                "answer; nothing was defragmented (compaction is harmless to repeat)",
            )
        else:
            raise CommandFailed(
                ex.host, f"etcdctl compact {target}", result.exit_code, result.stderr.strip()
            )
        report: dict[str, object] = {"compacted_at": target, "revision": revision}
        if action.wait:
            self._reached(ex, action.etcd, endpoints)
            before = {
                u: c for u in endpoints if (c := gateway.compactions(answers.get(("metrics", u))))
            }
            found, track, made = self._settled(
                ex, action.etcd, endpoints, before if result.ok else {}, action.settle
            )
            done += "; " + self._told(ex, found, track, made, report, action.settle)
        return (Outcome.changed if result.ok else Outcome.ok)(done, report=report)

    @staticmethod
    def _compact(etcd: EtcdConfig, wait: bool) -> Command:
        """With wait, --physical: etcdctl returns once the member asked has deleted the old
        revisions (the others delete theirs at the same time): one process that waits instead of
        a read every 0.1 s, each taking CPU from the members deleting. The reads after it check
        the other members."""
        revision = Live("REVISION")
        if not wait:
            return etcdctl(etcd, "compact", revision)
        return etcdctl(etcd, "compact", revision, "--physical", command_timeout=Live("TIMEOUT"))

    @staticmethod
    def _reached(ex: ExecContext, etcd: EtcdConfig, endpoints: list[str]) -> None:
        """Poll until every member refuses revision 1 as compacted: each poll one curl for the
        members still to reach, etcdctl's probe for any the gateway cannot tell about (etcd auth
        on: the gateway's read has no user)."""
        pending = list(endpoints)
        last = "not yet"

        def compacted() -> tuple[bool, str]:
            nonlocal pending, last
            answers = gateway_answers(ex, etcd, pending, ("compacted",)) or {}
            still = []
            for url in pending:
                reached = gateway.compacted(answers.get(("compacted", url)))
                if reached is None:
                    result = ex.run(reached_read(etcd).fill(ENDPOINTS=url), check=False)
                    reached = "compacted" in result.stderr
                    last = (result.stderr.strip().splitlines() or ["not yet"])[-1]
                if not reached:
                    still.append(url)
            pending = still
            waiting = ", ".join(host_of_url(ex.inventory, u) for u in pending)
            return (
                not pending,
                f"not yet on {waiting} ({last})" if pending else "reached every member",
            )

        ex.poll(compacted, "the compaction has reached every member", 0.2, APPLY_TIMEOUT)

    @staticmethod
    def _told(
        ex: ExecContext,
        found: dict[str, EndpointStatus],
        track: dict[str, Settling],
        made: Nudges,
        report: dict[str, object],
        settle: bool = True,
    ) -> str:
        """What the outcome says of every member's figures; they go into the report too."""
        hosts = {u: host_of_url(ex.inventory, u) for u in track}
        report["finished_by"] = {hosts[u]: t.finished for u, t in track.items()}
        report["figures"] = {
            hosts[u]: {
                "db_size": s.db_size,
                "in_use": s.db_size_in_use,
                "settled": track[u].settled,
            }
            for u, s in found.items()
        }
        report["nudges"] = made.count
        figures = ", ".join(
            f"{hosts[u]} {units.size(s.db_size_in_use)} in use of {units.size(s.db_size)}"
            + ("" if track[u].settled or not settle else " (not settled: no commit since)")
            for u, s in found.items()
        )
        spaced = [hosts[u] for u, t in track.items() if t.finished != COUNTERS]
        if not spaced:
            told = "by every member's compaction counters"
        elif len(spaced) == len(track):
            told = "by every member's space in use settling"
        else:
            told = (
                f"by the space in use settling on {', '.join(spaced)}, "
                "by the compaction counters elsewhere"
            )
        words = f"; {made.words()}" if made.words() else ""
        return f"applied by every member ({figures}); finished deleting, told {told}{words}"

    @staticmethod
    def _settled(
        ex: ExecContext,
        etcd: EtcdConfig,
        endpoints: list[str],
        before: dict[str, gateway.Compactions],
        settle: bool = True,
    ) -> tuple[dict[str, EndpointStatus], dict[str, Settling], Nudges]:
        """Poll until every member has finished deleting the compacted revisions and its space
        figures count what it freed: ({URL: its last status}, {URL: how it settled}, writes made).
        Finished: its finished compactions have grown since before and it deleted as many old
        revisions as the member asked, whose compact --physical returned once it had finished (the
        same compaction deletes the same revisions on every member; an earlier compaction finishing
        late on one member makes the counts differ, never agree); else (no curl, no metrics,
        nothing compacted now) its space in use stopped shrinking. Settled: see facts/space.py,
        Settling. A member that stalls (no commit since the last read) gets a write every member
        commits (etcd_reads.Nudges); one that cannot be made to commit is taken as read, and
        says so. Without settle, a member told finished by its counters is taken as read then
        (a rule such as `always` decides nothing on its figures)."""
        mine = etcd.client_url
        track = {u: Settling() for u in endpoints}
        found: dict[str, EndpointStatus] = {}
        deleted: list[int] = []  # how many revisions the compaction deleted on the member asked
        made = Nudges()

        def settled() -> tuple[bool, str]:
            def done(url: str) -> bool:
                return track[url].settled or (not settle and track[url].finished == COUNTERS)

            pending = [u for u in endpoints if not done(u)]
            answers = gateway_answers(ex, etcd, pending, ("status", "metrics")) or {}
            now_found = {
                u: parse_status(u, s)
                for u in pending
                if (s := gateway.status_of(answers.get(("status", u))))
            }
            missing = [u for u in pending if u not in now_found]
            if missing:
                now_found.update({s.endpoint: s for s in read_status(ex, etcd, missing)})
            for url in sorted(pending, key=lambda u: u != mine):  # the member asked first
                metrics = answers.get(("metrics", url))
                now, then = gateway.compactions(metrics), before.get(url)
                counters = False
                if now is not None and then is not None and now.finished > then.finished:
                    if url == mine and not deleted:
                        deleted.append(now.keys - then.keys)
                    counters = bool(deleted) and now.keys - then.keys == deleted[0]
                if url in now_found:
                    found[url] = now_found[url]
                    track[url].observe(
                        found[url].db_size_in_use, gateway.commits(metrics), counters, made.just
                    )
            waiting = [u for u in endpoints if not done(u)]
            stalled = [u for u in waiting if track[u].stalled]
            if made.after_reads(ex, etcd, bool(stalled), len(stalled) == len(waiting)):
                for url in stalled:
                    track[url].finished = track[url].finished or SPACE
                return True, "taken as read: no commit since"
            names = [host_of_url(ex.inventory, u) for u in waiting]
            return not waiting, (
                "still deleting or settling: " + ", ".join(names) + "; " if names else ""
            ) + ", ".join(
                f"{host_of_url(ex.inventory, u)} {units.size(s.db_size_in_use)}"
                for u, s in found.items()
            )

        ex.poll(
            settled,
            "every member has finished deleting the compacted revisions and its figures count it",
            0.1,
            SETTLE_TIMEOUT,
        )
        for url, t in track.items():
            if t.settled and t.last is not None and t.last[0] is not None:
                ex.learned[(host_of_url(ex.inventory, url), SETTLED)] = t.last[0]
        return {u: found[u] for u in endpoints if u in found}, track, made
