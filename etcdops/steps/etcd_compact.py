"""`etcd_compact`: compact the keyspace, then wait until every member has applied it and finished
deleting the old revisions."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import CommandFailed, StepFailed
from etcdops.facts import gateway
from etcdops.facts.parse import (
    parse_status,
)
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import (
    ENDPOINTS,
    endpoints_of,
    gateway_answers,
    gateway_ask,
    host_of_url,
    read_status,
    reads,
)
from etcdops.steps.spec import spec_field

SHRINK_STEP = 256 * 1024  # bytes: in use shrinking less than this per read counts as settled
SETTLED_READS = 3
APPLY_TIMEOUT = 40.0  # s for a compaction to reach a member (it is in raft once compact returns)
SETTLE_TIMEOUT = 180.0  # s for a member to finish deleting the compacted revisions
# how a member was told to have finished deleting a compaction
COUNTERS = "counters"
SPACE = "space"


@dataclass(frozen=True)
class CompactSpec:
    retain: int = spec_field(
        "keep the last N revisions (compact at the current revision - N)", 0, minimum=0
    )
    wait: bool = spec_field("wait until every member has applied it", True)


@dataclass(frozen=True, kw_only=True)
class CompactAction(Action):
    etcd: EtcdConfig
    retain: int
    wait: bool
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
                f"shrinking, {SETTLED_READS} reads under {SHRINK_STEP // 1024} KiB apart)"
            )
        compact = self._compact(etcd, spec.wait)
        return CompactAction(
            intent=intent,
            commands=(compact,),
            reads=(*reads(etcd), *((reached_read(etcd),) if spec.wait else ())),
            etcd=etcd,
            retain=spec.retain,
            wait=spec.wait,
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
            in_use, by = self._settled(ex, action.etcd, endpoints, before if result.ok else {})
            report["finished_by"] = {host_of_url(ex.inventory, u): how for u, how in by.items()}
            done += (
                "; applied by every member ("
                + ", ".join(
                    f"{host_of_url(ex.inventory, u)} {units.size(b)} in use"
                    for u, b in in_use.items()
                )
                + ")"
            )
            spaced = [host_of_url(ex.inventory, u) for u, how in by.items() if how != COUNTERS]
            if not spaced:
                told = "by every member's compaction counters"
            elif len(spaced) == len(by):
                told = "by every member's space in use settling"
            else:
                told = (
                    f"by the space in use settling on {', '.join(spaced)}, "
                    "by the compaction counters elsewhere"
                )
            done += "; finished deleting, told " + told
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
    def _settled(
        ex: ExecContext,
        etcd: EtcdConfig,
        endpoints: list[str],
        before: dict[str, gateway.Compactions],
    ) -> tuple[dict[str, int], dict[str, str]]:
        """Poll until every member has finished deleting the compacted revisions: ({URL: space in
        use}, {URL: how it was told}). COUNTERS: its finished compactions have grown since before
        and it deleted as many old revisions as the member asked, whose compact --physical
        returned once it had finished (the same compaction deletes the same revisions on every
        member; an earlier compaction finishing late on one member makes the counts differ, never
        agree). SPACE, wherever the counters cannot tell (no curl, no metrics, nothing compacted
        now): its space in use has shrunk less than SHRINK_STEP per read, SETTLED_READS times in
        a row."""
        mine = etcd.client_url
        last: dict[str, int] = {}
        calm: dict[str, int] = {}
        by: dict[str, str] = {}
        deleted: list[int] = []  # how many revisions the compaction deleted on the member asked

        def settled() -> tuple[bool, str]:
            pending = [u for u in endpoints if u not in by]
            answers = gateway_answers(ex, etcd, pending, ("status", "metrics")) or {}
            found = {
                u: parse_status(u, s)
                for u in pending
                if (s := gateway.status_of(answers.get(("status", u))))
            }
            missing = [u for u in pending if u not in found]
            found.update({s.endpoint: s for s in read_status(ex, etcd, missing)} if missing else {})
            # the member asked first: its count is the one
            for url in sorted(pending, key=lambda u: u != mine):
                now, then = gateway.compactions(answers.get(("metrics", url))), before.get(url)
                if now is not None and then is not None and now.finished > then.finished:
                    if url == mine and not deleted:
                        deleted.append(now.keys - then.keys)
                    if deleted and now.keys - then.keys == deleted[0]:
                        by[url] = COUNTERS
                size = found[url].db_size_in_use if url in found else None
                if size is None:
                    continue
                previous = last.get(url)
                calm[url] = (
                    calm.get(url, 0) + 1
                    if previous is not None and previous - size < SHRINK_STEP
                    else 0
                )
                last[url] = size
                if calm[url] >= SETTLED_READS:
                    by.setdefault(url, SPACE)
            waiting = [host_of_url(ex.inventory, u) for u in endpoints if u not in by]
            return not waiting, (
                "still deleting: " + ", ".join(waiting) + "; " if waiting else ""
            ) + ", ".join(
                f"{host_of_url(ex.inventory, u)} {units.size(b)}" for u, b in last.items()
            )

        ex.poll(
            settled,
            "every member has finished deleting the compacted revisions",
            0.1,
            SETTLE_TIMEOUT,
        )
        return {u: last[u] for u in endpoints if u in last}, {u: by[u] for u in endpoints}
