"""`etcd_defrag`: defragment a member when its live figures meet the rule, the cluster healthy
before and after."""

from __future__ import annotations

import time
from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import StepFailed
from etcdops.facts import gateway
from etcdops.facts.disk import df_command, parse_df
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import parse_hashkv, parse_status
from etcdops.facts.space import (
    DEFAULT_QUOTA,
    RULES,
    Settling,
    Space,
    defrag_reason,
    judged_on,
    rule_ok,
)
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, HostStatus, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import (
    DECIDED,
    SETTLED,
    Nudges,
    endpoints_of,
    gateway_answers,
    gateway_status,
    host_of_url,
    nudge_commands,
    read_status,
    reads,
    unhealthy,
)
from etcdops.steps.spec import spec_field

HEALTH_TIMEOUT = 60.0  # s for the cluster to be healthy again after a defragmentation
SETTLE_TIMEOUT = 15.0  # s for a member's figures to settle before a decision not to defragment


@dataclass(frozen=True)
class DefragSpec:
    rule: str = spec_field(
        "default | always | never | an expression over the member's figures", "default"
    )
    timeout: int = spec_field("seconds the defragmentation may take", 600, minimum=10)


@dataclass(frozen=True, kw_only=True)
class DefragAction(Action):
    etcd: EtcdConfig
    rule: str
    seconds: int
    endpoints: tuple[str, ...]
    quota: int
    defrag: Command
    hashkv: Command  # its own keyspace hash at a fixed revision: the same after as before


class EtcdDefragKind(StepKind[DefragSpec, DefragAction]):
    name = "etcd_defrag"
    summary = (
        "defragment one member at a time if its live figures meet the rule; health before and after"
    )
    Spec = DefragSpec
    shorthand = "rule"
    default_target = "members"
    default_timeout = 900.0

    def plan(self, spec: DefragSpec, ctx: StepContext) -> DefragAction:
        if not rule_ok(spec.rule):
            raise ctx.error(
                f"etcd_defrag.rule {spec.rule!r} is not default, always, never or an expression "
                "over the figures"
            )
        etcd = ctx.etcd
        endpoints = endpoints_of(ctx.inventory)
        status = ctx.facts.status_of(ctx.host)
        defrag = etcdctl(etcd, "defrag", command_timeout=f"{spec.timeout}s")
        hashkv = etcdctl(
            etcd, "endpoint", "hashkv", Live("REVISION", prefix="--rev="), "-w", "json"
        ).reads()
        # bbolt copies what is in use, at most
        return DefragAction(
            intent=f"defragment {ctx.host} if, on its figures right before, the rule {spec.rule} "
            "holds and its disk has room for the copy bbolt writes; the whole cluster healthy "
            "before, and again after it (else stop here); its keyspace hash at its revision "
            "right before is the same after. Not defragmented only on figures that count what "
            "the compaction freed (settled then, else read again after writes that every member "
            "commits: a lease granted and revoked)",
            commands=(defrag, *nudge_commands(etcd)),
            reads=(*reads(etcd), df_command([etcd.data_dir]), hashkv),
            defrag=defrag,
            hashkv=hashkv,
            etcd=etcd,
            rule=spec.rule,
            seconds=spec.timeout,
            endpoints=tuple(endpoints),
            quota=etcd.quota_backend_bytes or DEFAULT_QUOTA,
            work=status.db_size_in_use if status else 0,
        )

    def execute(self, action: DefragAction, ex: ExecContext) -> Outcome:
        # health and figures in one read
        found, proven = gateway_status(ex, action.etcd, list(action.endpoints))
        if not proven:
            sick = unhealthy(ex, action.etcd, list(action.endpoints))
            if sick:
                raise StepFailed(
                    ex.step,
                    ex.host,
                    f"{', '.join(sick)} is not healthy, so {ex.host} is not "
                    "defragmented: stopping here",
                )
        # its own figures and the leader, at once
        statuses = (
            found if found is not None else read_status(ex, action.etcd, list(action.endpoints))
        )
        before, leader_before = self._own(ex, action, statuses), self._leader(ex, statuses)
        space = self._space(ex, action, before)
        reason = defrag_reason(space, action.rule)
        settled = "settled after this run's compaction"
        if (ex.host, SETTLED) not in ex.learned:
            settled = "as read (not compacted in this run)"
        if RULES.get(action.rule) == "false":
            settled = "not read again: the rule defragments no member"
        elif not reason and (ex.host, SETTLED) not in ex.learned:
            again, settled = self._settle(ex, action)
            if again is not None:
                before, space = again, self._space(ex, action, again)
                reason = defrag_reason(space, action.rule)
        if not reason:
            return self._skipped(ex, action, space, settled)
        no_room = self._why_no_room(ex, action, before.db_size)
        if no_room:
            ex.learned[(ex.host, DECIDED)] = {"defragmented": False, "reason": no_room}
            return Outcome(HostStatus.SKIPPED, no_room)
        hash_before = self._hash(ex, action, before.revision)
        started = time.time()
        t0 = time.monotonic()
        ex.run(action.defrag)
        seconds = time.monotonic() - t0

        seen: list[list[EndpointStatus]] = []

        def healthy() -> tuple[bool, str]:
            found, ok = gateway_status(ex, action.etcd, list(action.endpoints))
            if not ok:
                now = unhealthy(ex, action.etcd, list(action.endpoints))
                if now:
                    return False, ", ".join(now) + " unhealthy"
            if found is not None:
                seen.append(found)
            return True, "healthy"

        ex.poll(
            healthy, f"the cluster is healthy after defragmenting {ex.host}", 0.5, HEALTH_TIMEOUT
        )
        statuses = seen[-1] if seen else read_status(ex, action.etcd, list(action.endpoints))
        after, leader_after = self._own(ex, action, statuses), self._leader(ex, statuses)
        hash_after = self._hash(ex, action, before.revision)
        if hash_before is not None and hash_after is not None and hash_before != hash_after:
            raise StepFailed(
                ex.step,
                ex.host,
                f"{ex.host} hashes its keyspace at revision {before.revision} to {hash_after:x} "
                f"after the defragmentation, {hash_before:x} before: its data changed",
            )
        report = {
            "member": ex.host,
            "db_before": before.db_size,
            "in_use_before": before.db_size_in_use,
            "db_after": after.db_size,
            "in_use_after": after.db_size_in_use,
            "seconds": round(seconds, 3),
            "leader_before": leader_before,
            "leader_after": leader_after,
            "started": int(started * 1000),
            # None: not compared (the revision was compacted meanwhile, or hashkv failed)
            "hashkv": {
                "revision": before.revision,
                "before": f"{hash_before:x}" if hash_before is not None else None,
                "after": f"{hash_after:x}" if hash_after is not None else None,
            },
        }
        ex.learned[(ex.host, DECIDED)] = {"defragmented": True, "reason": reason}
        return Outcome.changed(
            f"{ex.host}: db size {units.size(before.db_size)} -> {units.size(after.db_size)} "
            f"({units.size(after.db_size_in_use)} in use) in {seconds * 1000:.0f} ms; leader "
            f"{leader_before} -> {leader_after} ({reason})",
            report=report,
        )

    @staticmethod
    def _hash(ex: ExecContext, action: DefragAction, revision: int) -> int | None:
        """The member's hash of its keyspace at revision; None when it cannot tell (compacted
        past it meanwhile: nothing to compare)."""
        result = ex.run(action.hashkv.fill(REVISION=revision), check=False)
        try:
            hashes = parse_hashkv(result.stdout) if result.ok else []
        except ValueError:
            hashes = []
        return hashes[0].hash if hashes else None

    @staticmethod
    def _space(ex: ExecContext, action: DefragAction, status: EndpointStatus) -> Space:
        return Space(
            ex.host,
            status.db_size,
            status.db_size_in_use,
            action.quota,
            status.is_learner,
            status.is_leader,
        )

    @staticmethod
    def _skipped(ex: ExecContext, action: DefragAction, space: Space, settled: str) -> Outcome:
        """Not defragmented: the outcome says the figures it was judged on, and how they were
        known to count what the compaction freed."""
        judged = judged_on(space, settled)
        ex.learned[(ex.host, DECIDED)] = {"defragmented": False, "reason": judged}
        return Outcome.ok(
            f"not needed under rule {action.rule}: judged on {judged}",
            report={
                "skipped": ex.host,
                "rule": action.rule,
                "db_size": space.db_size,
                "in_use": space.in_use,
                "reclaimable": space.reclaimable,
                "quota_usage": round(space.quota_usage, 4),
                "read": settled,  # how the figures were known to count what was freed
            },
        )

    @staticmethod
    def _settle(ex: ExecContext, action: DefragAction) -> tuple[EndpointStatus | None, str]:
        """Its status once its space figures count what it freed (facts/space.py, Settling),
        where this run's compaction did not settle them (a resumed run, a runbook without one):
        its backend commits, read with its status, made to grow by nudges where it is quiet."""
        url = action.etcd.client_url
        track, made = Settling(), Nudges()
        seen: list[EndpointStatus] = []

        def read() -> tuple[bool, str]:
            answers = gateway_answers(ex, action.etcd, [url], ("status", "metrics")) or {}
            found = gateway.status_of(answers.get(("status", url)))
            status = parse_status(url, found) if found else read_status(ex, action.etcd)[0]
            seen.append(status)
            commits = gateway.commits(answers.get(("metrics", url)))
            track.observe(status.db_size_in_use, commits, True, made.just)
            if track.settled:
                return True, f"{units.size(status.db_size_in_use)} in use, settled"
            if made.after_reads(ex, action.etcd, track.stalled, True):
                return True, "no commit since: taken as read"
            return False, f"{units.size(status.db_size_in_use)} in use, settling"

        ex.poll(read, f"{ex.host}'s space figures have settled", 0.1, SETTLE_TIMEOUT)
        words = f" ({made.words()})" if made.words() else ""
        if not track.settled:
            return (seen[-1] if seen else None), f"not settled: nothing committed since{words}"
        return seen[-1], f"read again until settled{words}"

    @staticmethod
    def _why_no_room(ex: ExecContext, action: DefragAction, db_size: int) -> str:
        """Why the defragmentation would not fit ('' when it does): bbolt writes a new copy of the
        whole database beside the old one; afterwards the margin must still be free."""
        df = df_command([action.etcd.data_dir])
        fs = parse_df(ex.run(df).stdout).get(action.etcd.data_dir)
        if fs is None:
            return ""
        if fs.free - db_size >= fs.margin:
            return ""
        return (
            f"not defragmented: it writes a full copy of the database ({units.size(db_size)}) on "
            f"{fs.mount}, which has "
            f"{units.size(fs.free)} free, and {units.size(fs.margin)} must stay free "
            "(10% of the filesystem or 1 GiB, "
            "whichever is more); make room, then run compact-defrag again"
        )

    @staticmethod
    def _own(
        ex: ExecContext, action: DefragAction, statuses: list[EndpointStatus]
    ) -> EndpointStatus:
        mine = action.etcd.client_url.rstrip("/")
        found = next((s for s in statuses if s.endpoint.rstrip("/") == mine), None)
        return found if found is not None else read_status(ex, action.etcd)[0]

    @staticmethod
    def _leader(ex: ExecContext, statuses: list[EndpointStatus]) -> str:
        by_id = {s.member_id: host_of_url(ex.inventory, s.endpoint) for s in statuses}
        leader = next((s.leader for s in statuses if s.leader), 0)
        return by_id.get(leader, f"{leader:x}")
