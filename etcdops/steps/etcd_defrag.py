"""`etcd_defrag`: defragment a member when its live figures meet the rule, the cluster healthy
before and after."""

from __future__ import annotations

import time
from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import StepFailed
from etcdops.facts.disk import df_command, parse_df
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import parse_hashkv
from etcdops.facts.space import DEFAULT_QUOTA, Space, defrag_reason, rule_ok
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, HostStatus, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import (
    endpoints_of,
    gateway_status,
    host_of_url,
    read_status,
    reads,
    unhealthy,
)
from etcdops.steps.spec import spec_field

HEALTH_TIMEOUT = 60.0  # s for the cluster to be healthy again after a defragmentation


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
            "right before is the same after",
            commands=(defrag,),
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
        space = Space(
            ex.host,
            before.db_size,
            before.db_size_in_use,
            action.quota,
            before.is_learner,
            before.is_leader,
        )
        reason = defrag_reason(space, action.rule)
        if not reason:
            return Outcome.ok(
                f"not needed under rule {action.rule}: {units.size(space.reclaimable)} "
                f"reclaimable of {units.size(space.db_size)}"
            )
        no_room = self._why_no_room(ex, action, before.db_size)
        if no_room:
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
