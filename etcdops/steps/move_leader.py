"""`move_leader`: hand leadership to another member (asked of the leader) and wait until it
leads."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import CommandFailed, StepFailed
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import (
    parse_endpoint_status,
)
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import (
    endpoints_of,
    gateway_status,
    host_of_url,
    reads,
    status_command,
)
from etcdops.steps.spec import spec_field


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
    move: Command


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
        if spec.away_from:
            when = f" if {spec.away_from} leads (the leader is {leader or 'unknown'} now)"
        else:
            when = ""
        endpoints = endpoints_of(ctx.inventory)
        endpoints += [target.client_url] if target.client_url not in endpoints else []
        # sent to the leader, which hands over to the target: both read right before
        move = etcdctl(etcd, "move-leader", Live("MEMBER_ID"), endpoints=Live("LEADER"))
        now = f" (member {member.id_hex})" if member else ""
        return MoveLeaderAction(
            intent=f"move leadership to {spec.to}{now}{when}, then wait until {spec.to} leads",
            commands=(move,),
            reads=reads(etcd),
            move=move,
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
        ex.run(action.move.fill(MEMBER_ID=f"{target.member_id:x}", LEADER=leader.endpoint))

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
