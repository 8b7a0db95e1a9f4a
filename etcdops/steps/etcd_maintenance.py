"""Maintenance of a running cluster: `etcd_compact`, `etcd_defrag`, `move_leader`, `alarm_disarm`.

Every read is etcd's gateway through one curl where it can tell (facts/gateway.py), else `etcdctl
-w json`,
parsed in Python; every wait is a bounded poll of the step.
Commands run on the step's host, against its own member or the endpoints named.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from etcdops.commands import Command, etcdctl
from etcdops.errors import CommandFailed, StepFailed
from etcdops.facts import gateway
from etcdops.facts.disk import df_command, human, parse_df
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import (
    parse_endpoint_status,
    parse_health_list,
    parse_status,
    parse_status_alarms,
)
from etcdops.facts.space import DEFAULT_QUOTA, Space, defrag_reason, mb, rule_ok
from etcdops.inventory import EtcdConfig, Inventory
from etcdops.steps.base import Action, ExecContext, HostStatus, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field

SHRINK_STEP = 256 * 1024  # bytes: in use shrinking less than this per read counts as settled
SETTLED_READS = 3
APPLY_TIMEOUT = 40.0  # s for a compaction to reach a member (it is in raft once compact returns)
SETTLE_TIMEOUT = 180.0  # s for a member to finish deleting the compacted revisions
HEALTH_TIMEOUT = 60.0  # s for the cluster to be healthy again after a defragmentation
COUNTERS, SPACE = (
    "counters",
    "space",
)  # how a member was told to have finished deleting a compaction
NO_CURL, REFUSED = (
    "no curl",
    "gateway refused",
)  # learned of a host during the run (ExecContext.learned)


def endpoints_of(inventory: Inventory) -> list[str]:
    return [h.etcd.client_url for h in inventory.members if h.etcd]


def status_command(etcd: EtcdConfig, endpoints: list[str] | str | None = None) -> Command:
    return etcdctl(etcd, "endpoint", "status", "-w", "json", endpoints=endpoints)


def health_command(etcd: EtcdConfig, endpoints: list[str]) -> Command:
    return etcdctl(etcd, "endpoint", "health", "-w", "json", endpoints=endpoints)


def read_status(
    ex: ExecContext, etcd: EtcdConfig, endpoints: list[str] | str | None = None
) -> list[EndpointStatus]:
    """Every endpoint's status: from etcd's gateway when each answers it, else etcdctl's."""
    urls = [endpoints] if isinstance(endpoints, str) else endpoints or [etcd.client_url]
    found, _ = gateway_status(ex, etcd, urls, health=False)
    if found is not None:
        return found
    return parse_endpoint_status(ex.run(status_command(etcd, endpoints)).stdout)


def gateway_status(
    ex: ExecContext, etcd: EtcdConfig, endpoints: list[str], health: bool = True
) -> tuple[list[EndpointStatus] | None, bool]:
    """(every endpoint's status, whether the gateway shows each healthy) in one curl: healthy is a
    3.5+ member answering the linearizable member list, what endpoint health's quorum read proves
    (asked only with health). The statuses are None when the gateway gave no status for some
    endpoint; healthy False when it cannot tell (a 3.4 member, a refused member list), and
    unhealthy()'s etcdctl says who is not."""
    answers = gateway_answers(ex, etcd, endpoints, ("status", "members") if health else ("status",))
    if answers is None:
        return None, False
    statuses, healthy = [], health
    for url in endpoints:
        status = gateway.status_of(answers.get(("status", url)))
        if status is None:
            return None, False
        healthy = healthy and gateway.proves_health(status, answers.get(("members", url)))
        statuses.append(parse_status(url, status))
    return statuses, healthy


def gateway_answers(
    ex: ExecContext, etcd: EtcdConfig, urls: list[str], kinds: tuple[str, ...]
) -> dict[tuple[str, str], gateway.Answer] | None:
    """The gateway's answers to kinds for every URL, in one curl on the host; None without curl."""
    return gateway_ask(ex, etcd, gateway.requests_of(urls, kinds))


def gateway_ask(
    ex: ExecContext, etcd: EtcdConfig, requests: list[tuple[str, str]]
) -> dict[tuple[str, str], gateway.Answer] | None:
    """The gateway's answers to the (kind, URL) requests, on the host; None without curl. What
    this run learned is not asked again: a host without curl (nothing is), a gateway that refuses
    this client (only the metrics are)."""
    if ex.learned.get((ex.host, NO_CURL)):
        return None
    if ex.learned.get((ex.host, REFUSED)):
        requests = [r for r in requests if r[0] == "metrics"]
    if not requests:
        return {}
    result = ex.run(gateway.requests_command(etcd, requests), check=False)
    if gateway.NO_CURL in result.stdout:
        ex.learned[(ex.host, NO_CURL)] = True
    if not result.ok or gateway.NO_CURL in result.stdout:
        return None
    answers = gateway.parse(result.stdout, requests)
    if gateway.refused(answers):
        ex.learned[(ex.host, REFUSED)] = True
    return answers


def host_of_url(inventory: Inventory | None, url: str) -> str:
    if inventory is not None:
        for host in inventory.hosts.values():
            if host.etcd is not None and host.etcd.client_url.rstrip("/") == url.rstrip("/"):
                return host.name
    return url


def unhealthy(ex: ExecContext, etcd: EtcdConfig, endpoints: list[str]) -> list[str]:
    """Members failing `endpoint health` (an alarm is not ill health: the member serves reads)."""
    result = ex.run(health_command(etcd, endpoints), check=False)
    try:
        entries = parse_health_list(result.stdout)
    except ValueError:
        return [f"every member ({(result.stderr or 'no answer').strip().splitlines()[-1:]})"]
    return [
        f"{host_of_url(ex.inventory, url)} ({error or 'unhealthy'})"
        for url, ok, error in entries
        if not ok and "Active Alarm" not in error
    ]


# ----- compact ----------------------------------------------------------------------
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
        at = (f"revision {now - spec.retain}" if now else "the current revision") + (
            f" (the current one, {now}, read again right before, minus {spec.retain} kept)"
            if spec.retain
            else " (the current one, read again right before)"
        )
        applied = [
            etcdctl(etcd, "get", "x", "--rev=1", "--consistency=s", endpoints=url)
            for url in endpoints
        ]
        return CompactAction(
            intent=f"compact at {at}, then wait until every member says revision 1 is compacted "
            "and has finished "
            "deleting the old revisions (its compaction counters have grown by as many revisions "
            "as the "
            f"member asked deleted; else its space in use has stopped shrinking, {SETTLED_READS} "
            "reads under "
            f"{SHRINK_STEP // 1024} KiB apart)"
            if spec.wait
            else f"compact at {at}",
            commands=(
                gateway.requests_command(
                    etcd,
                    [("status", etcd.client_url)]
                    + [("metrics", u) for u in endpoints if spec.wait],
                ),
                status_command(etcd),
                self._compact(etcd, "<REVISION>", spec.wait, "<STEP TIMEOUT>"),
                *(
                    (
                        gateway.command(etcd, endpoints, ("compacted",)),
                        *applied,
                        gateway.command(etcd, endpoints, ("status", "metrics")),
                        status_command(etcd, endpoints),
                    )
                    if spec.wait
                    else ()
                ),
            ),
            etcd=etcd,
            retain=spec.retain,
            wait=spec.wait,
            endpoints=tuple(endpoints),
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
        result = ex.run(
            self._compact(action.etcd, str(target), action.wait, f"{bound}s"), check=False
        )
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
                    f"{host_of_url(ex.inventory, u)} {mb(b)} in use" for u, b in in_use.items()
                )
                + ")"
            )
            spaced = [host_of_url(ex.inventory, u) for u, how in by.items() if how != COUNTERS]
            done += "; finished deleting, told " + (
                "by every member's compaction counters"
                if not spaced
                else "by every member's space in use settling"
                if len(spaced) == len(by)
                else f"by the space in use settling on {', '.join(spaced)}, by the compaction "
                "counters elsewhere"
            )
        return (Outcome.changed if result.ok else Outcome.ok)(done, report=report)

    @staticmethod
    def _compact(etcd: EtcdConfig, revision: str, wait: bool, timeout: str) -> Command:
        """With wait, --physical: etcdctl returns once the member asked has deleted the old
        revisions
        (the others delete theirs at the same time). One process that waits, instead of a read every
        0.1 s through that time, each a session and an etcdctl on the host that take CPU from the
        members deleting (on the lab, 27 reads of ~50 ms CPU through the 4 s a GB of history
        took; the
        step's time did not measurably change: 3.5 and 4.2 s before, 2.8-4.8 s over seven runs
        after); the reads after it check the other members."""
        if not wait:
            return etcdctl(etcd, "compact", revision)
        return etcdctl(etcd, "compact", revision, "--physical", command_timeout=timeout)

    @staticmethod
    def _reached(ex: ExecContext, etcd: EtcdConfig, endpoints: list[str]) -> None:
        """Poll until every member refuses revision 1 as compacted: each poll one curl for the
        members still to reach, etcdctl's probe for any the gateway cannot tell about (etcd auth on:
        the gateway's read has no user)."""
        pending = list(endpoints)
        last = "not yet"

        def compacted() -> tuple[bool, str]:
            nonlocal pending, last
            answers = gateway_answers(ex, etcd, pending, ("compacted",)) or {}
            still = []
            for url in pending:
                reached = gateway.compacted(answers.get(("compacted", url)))
                if reached is None:
                    result = ex.run(
                        etcdctl(etcd, "get", "x", "--rev=1", "--consistency=s", endpoints=url),
                        check=False,
                    )
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
        and it deleted as many old revisions as the member asked, whose compact --physical returned
        once it had finished (the same compaction deletes the same revisions on every member; an
        earlier compaction finishing late on one member makes the counts differ, never agree).
        SPACE, wherever the counters cannot tell (no curl, no metrics, nothing compacted now): its
        space in use has shrunk less than SHRINK_STEP per read, SETTLED_READS times in a row."""
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
            for url in sorted(
                pending, key=lambda u: u != mine
            ):  # the member asked first: its count is the one
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
            ) + ", ".join(f"{host_of_url(ex.inventory, u)} {mb(b)}" for u, b in last.items())

        ex.poll(
            settled,
            "every member has finished deleting the compacted revisions",
            0.1,
            SETTLE_TIMEOUT,
        )
        return {u: last[u] for u in endpoints if u in last}, {u: by[u] for u in endpoints}


# ----- defrag -----------------------------------------------------------------------
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
        return DefragAction(
            intent=f"defragment {ctx.host} if, on its figures right before, the rule {spec.rule} "
            "holds; the whole "
            "cluster healthy before, and again after it (else stop here)",
            commands=(
                gateway.command(etcd, endpoints, ("status", "members")),
                health_command(etcd, endpoints),
                status_command(etcd, endpoints),
                etcdctl(etcd, "defrag", command_timeout=f"{spec.timeout}s"),
                health_command(etcd, endpoints),
                status_command(etcd, endpoints),
            ),
            etcd=etcd,
            rule=spec.rule,
            seconds=spec.timeout,
            endpoints=tuple(endpoints),
            quota=etcd.quota_backend_bytes or DEFAULT_QUOTA,
            work=status.db_size_in_use if status else 0,
        )  # bbolt copies what is in use, at most

    def execute(self, action: DefragAction, ex: ExecContext) -> Outcome:
        found, proven = gateway_status(
            ex, action.etcd, list(action.endpoints)
        )  # health and figures in one read
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
                f"not needed under rule {action.rule}: {mb(space.reclaimable)} reclaimable of "
                f"{mb(space.db_size)}"
            )
        room = self._room(ex, action, before.db_size)
        if room:
            return Outcome(HostStatus.SKIPPED, room)
        started = time.time()
        t0 = time.monotonic()
        ex.run(etcdctl(action.etcd, "defrag", command_timeout=f"{action.seconds}s"))
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
        report = {
            "member": ex.host,
            "db_before": before.db_size,
            "db_after": after.db_size,
            "in_use_after": after.db_size_in_use,
            "seconds": round(seconds, 3),
            "leader_before": leader_before,
            "leader_after": leader_after,
            "started": int(started * 1000),
        }
        return Outcome.changed(
            f"{ex.host}: db size {before.db_size} -> {after.db_size} bytes "
            f"({after.db_size_in_use} in use) in {seconds * 1000:.0f} ms; leader "
            f"{leader_before} -> {leader_after} ({reason})",
            report=report,
        )

    @staticmethod
    def _room(ex: ExecContext, action: DefragAction, db_size: int) -> str:
        """Why the defragmentation would not fit ('' when it does): bbolt writes a new copy of the
        whole database beside the old one; afterwards the margin must still be free."""
        fs = parse_df(ex.run(df_command([action.etcd.data_dir])).stdout).get(action.etcd.data_dir)
        if fs is None:
            return ""
        if fs.free - db_size >= fs.margin:
            return ""
        return (
            f"not defragmented: it writes a full copy of the database ({human(db_size)}) on "
            f"{fs.mount}, which has "
            f"{human(fs.free)} free, and {human(fs.margin)} must stay free (10% of the filesystem "
            "or 1 GiB, "
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


# ----- move_leader ------------------------------------------------------------------
@dataclass(frozen=True)
class MoveLeaderSpec:
    to: str = spec_field("the inventory host that becomes the leader")
    away_from: str | None = spec_field("only if this host leads now (else nothing to do)", None)
    timeout: float = spec_field("seconds to wait for the new leader", 30.0, minimum=1)


@dataclass(frozen=True, kw_only=True)
class MoveLeaderAction(Action):
    etcd: EtcdConfig
    to_url: str
    to_host: str
    away_from: str | None
    endpoints: tuple[str, ...]
    wait: float


class MoveLeaderKind(StepKind[MoveLeaderSpec, MoveLeaderAction]):
    name = "move_leader"
    summary = "hand leadership to another member (sent to the leader) and wait until it leads"
    Spec = MoveLeaderSpec
    shorthand = "to"

    def plan(self, spec: MoveLeaderSpec, ctx: StepContext) -> MoveLeaderAction:
        target = ctx.etcd_of(spec.to)
        etcd = ctx.etcd
        member = ctx.facts.member_of(spec.to)
        leader = ctx.facts.leader_host
        leader_url = ctx.etcd_of(leader).client_url if leader else "<LEADER>"
        when = (
            f" if {spec.away_from} leads (the leader is {leader or 'unknown'} now)"
            if spec.away_from
            else ""
        )
        endpoints = endpoints_of(ctx.inventory)
        endpoints += [target.client_url] if target.client_url not in endpoints else []
        return MoveLeaderAction(
            intent=f"move leadership to {spec.to}{when}, then wait until {spec.to} leads",
            commands=(
                gateway.command(etcd, endpoints),
                status_command(etcd, endpoints),
                etcdctl(
                    etcd,
                    "move-leader",
                    member.id_hex if member else f"<ID of {spec.to}>",
                    endpoints=leader_url,
                ),
            ),
            etcd=etcd,
            to_url=target.client_url,
            to_host=spec.to,
            away_from=spec.away_from,
            endpoints=tuple(endpoints),
            wait=spec.timeout,
        )

    def execute(self, action: MoveLeaderAction, ex: ExecContext) -> Outcome:
        statuses = self._statuses(ex, action)
        leader = next((s for s in statuses if s.is_leader), None)
        target = next(
            (s for s in statuses if s.endpoint.rstrip("/") == action.to_url.rstrip("/")), None
        )
        if target is None:
            raise StepFailed(
                ex.step, ex.host, f"{action.to_host} ({action.to_url}) does not answer"
            )
        if leader is not None and leader.member_id == target.member_id:
            return Outcome.ok(f"{action.to_host} already leads")
        if (
            action.away_from
            and leader is not None
            and host_of_url(ex.inventory, leader.endpoint) != action.away_from
        ):
            return Outcome.ok(
                f"{action.away_from} does not lead (the leader is "
                f"{host_of_url(ex.inventory, leader.endpoint)}): nothing to move"
            )
        if leader is None:
            raise StepFailed(ex.step, ex.host, "the cluster has no leader to hand over from")
        ex.run(
            etcdctl(action.etcd, "move-leader", f"{target.member_id:x}", endpoints=leader.endpoint)
        )

        def moved() -> tuple[bool, str]:
            now = next((s for s in self._statuses(ex, action) if s.is_leader), None)
            name = host_of_url(ex.inventory, now.endpoint) if now else "none"
            return now is not None and now.member_id == target.member_id, f"leader {name}"

        ex.poll(moved, f"{action.to_host} leads", 0.25, action.wait)
        return Outcome.changed(
            f"leadership moved from {host_of_url(ex.inventory, leader.endpoint)} to "
            f"{action.to_host}"
        )

    @staticmethod
    def _statuses(ex: ExecContext, action: MoveLeaderAction) -> list[EndpointStatus]:
        found, _ = gateway_status(ex, action.etcd, list(action.endpoints), health=False)
        if found is not None:
            return found
        # endpoints that do not answer make etcdctl exit non-zero; the others are still printed
        result = ex.run(status_command(action.etcd, list(action.endpoints)), check=False)
        try:
            return parse_endpoint_status(result.stdout)
        except ValueError:
            raise CommandFailed(
                ex.host, "etcdctl endpoint status", result.exit_code, result.stderr
            ) from None


# ----- alarm_disarm -----------------------------------------------------------------
@dataclass(frozen=True)
class AlarmSpec:
    alarm: str = spec_field("the alarm to disarm", "NOSPACE")
    below: float = spec_field(
        "only if every member's db size is below this share of its quota", 0.9
    )


@dataclass(frozen=True, kw_only=True)
class AlarmAction(Action):
    etcd: EtcdConfig
    alarm: str
    below: float
    quotas: tuple[tuple[str, int], ...]  # (client URL, quota)


class AlarmDisarmKind(StepKind[AlarmSpec, AlarmAction]):
    name = "alarm_disarm"
    summary = "disarm an alarm (NOSPACE) once every member is below a share of its quota"
    Spec = AlarmSpec
    shorthand = "alarm"

    def plan(self, spec: AlarmSpec, ctx: StepContext) -> AlarmAction:
        etcd = ctx.etcd
        quotas = tuple(
            (h.etcd.client_url, h.etcd.quota_backend_bytes or DEFAULT_QUOTA)
            for h in ctx.inventory.members
            if h.etcd
        )
        return AlarmAction(
            intent=f"disarm {spec.alarm} if it is raised and every member is below "
            f"{spec.below:.0%} of its quota (else it stays armed and the step fails)",
            commands=(
                status_command(etcd, [u for u, _ in quotas]),
                etcdctl(etcd, "alarm", "disarm"),
            ),
            etcd=etcd,
            alarm=spec.alarm,
            below=spec.below,
            quotas=quotas,
        )

    def execute(self, action: AlarmAction, ex: ExecContext) -> Outcome:
        statuses = read_status(ex, action.etcd, [u for u, _ in action.quotas])
        alarms = {a.alarm for s in statuses for a in parse_status_alarms(s.errors)}
        if action.alarm not in alarms:
            return Outcome.ok(f"no {action.alarm} alarm")
        quota = dict(action.quotas)
        full = [
            f"{host_of_url(ex.inventory, s.endpoint)} uses {s.db_size} of {quota[s.endpoint]} bytes"
            for s in statuses
            if s.db_size >= action.below * quota.get(s.endpoint, DEFAULT_QUOTA)
        ]
        if full:
            raise StepFailed(
                ex.step,
                ex.host,
                f"{'; '.join(full)} ({action.below:.0%} or more): {action.alarm} stays armed",
            )
        ex.run(etcdctl(action.etcd, "alarm", "disarm"))
        return Outcome.changed(f"{action.alarm} disarmed")
