"""`etcd_endpoint_status`: print every endpoint's status (version, db size, leader, raft index,
revision) as a table."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops import units
from etcdops.commands import Command
from etcdops.facts.parse import parse_endpoint_status
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import endpoints_of, host_of_url, status_command
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class StatusSpec:
    cluster: bool = spec_field(
        "every member of the inventory's etcd group (else the host's own)", False
    )
    message: str = spec_field("text printed above the table", "")


@dataclass(frozen=True, kw_only=True)
class StatusAction(Action):
    command: Command
    message: str


class EtcdEndpointStatusKind(StepKind[StatusSpec, StatusAction]):
    name = "etcd_endpoint_status"
    summary = "print endpoint status (version, db size, leader, raft index, revision) as a table"
    Spec = StatusSpec
    default_timeout = 30.0

    def plan(self, spec: StatusSpec, ctx: StepContext) -> StatusAction:
        endpoints = tuple(endpoints_of(ctx.inventory)) if spec.cluster else (ctx.etcd.client_url,)
        command = status_command(ctx.etcd, list(endpoints))
        return StatusAction(
            intent=f"show endpoint status of {', '.join(endpoints)}",
            reads=(command,),
            command=command,
            message=spec.message,
        )

    def execute(self, action: StatusAction, ex: ExecContext) -> Outcome:
        # etcdctl prints the status of the endpoints that answered and exits 1 when one did not
        # (a member recover left out, say): the table shows those, and names the others
        out = ex.run(action.command, check=False)
        if not out.ok and not out.stdout.strip():
            ex.run(action.command)  # fails, naming the command and its error
        failed = [
            line.strip()
            for line in out.stderr.splitlines()
            if line.startswith("Failed to get the status of endpoint")
        ]
        lines = [action.message.rstrip()] if action.message.strip() else []
        lines.append(
            f"{'HOST':<10} {'ID':<17} {'VERSION':<8} {'DB SIZE':>9} {'IN USE':>9} {'LEADER':<6} "
            f"{'TERM':>5} {'INDEX':>8} {'REVISION':>9}"
        )
        for s in parse_endpoint_status(out.stdout):
            lines.append(
                f"{host_of_url(ex.inventory, s.endpoint):<10} {s.member_id:<17x} {s.version:<8} "
                f"{units.size(s.db_size):>9} {units.size(s.db_size_in_use):>9} "
                f"{'*' if s.is_leader else '':<6} "
                f"{s.raft_term:>5} {s.raft_index:>8} {s.revision:>9}"
            )
        return Outcome.ok("\n".join(lines + failed))
