"""Reading and checking the keyspace: `etcd_key` (delete one key), `etcd_key_count` (the number of
keys at a revision must be what a snapshot says) and `etcd_endpoint_status` (a table)."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import etcdctl
from etcdops.errors import StepFailed
from etcdops.facts.parse import parse_count, parse_endpoint_status
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, mb
from etcdops.steps.etcd_maintenance import endpoints_of, host_of_url
from etcdops.steps.etcd_snapshot import count_command
from etcdops.steps.spec import spec_field


# ----- etcd_key ----------------------------------------------------------------------
@dataclass(frozen=True)
class KeySpec:
    delete: str = spec_field("the key to delete (nothing if it is not there)")


@dataclass(frozen=True, kw_only=True)
class KeyAction(Action):
    etcd: EtcdConfig
    key: str
    endpoints: tuple[str, ...]


class EtcdKeyKind(StepKind[KeySpec, KeyAction]):
    name = "etcd_key"
    summary = "delete one key (ok when it is not there)"
    Spec = KeySpec
    shorthand = "delete"

    def plan(self, spec: KeySpec, ctx: StepContext) -> KeyAction:
        endpoints = tuple(endpoints_of(ctx.inventory))
        command = etcdctl(ctx.etcd, "del", spec.delete, "-w", "json", endpoints=list(endpoints))
        return KeyAction(
            intent=f"delete the key {spec.delete} (if it is there)",
            commands=(command,),
            etcd=ctx.etcd,
            key=spec.delete,
            endpoints=endpoints,
        )

    def execute(self, action: KeyAction, ex: ExecContext) -> Outcome:
        import json

        out = ex.run(
            etcdctl(action.etcd, "del", action.key, "-w", "json", endpoints=list(action.endpoints))
        ).stdout
        try:
            deleted = int(json.loads(out).get("deleted", 0))
        except (ValueError, AttributeError):
            deleted = 0
        return (
            Outcome.changed(f"deleted {action.key}")
            if deleted
            else Outcome.ok(f"{action.key} is not there")
        )


# ----- etcd_key_count --------------------------------------------------------------
@dataclass(frozen=True)
class CountSpec:
    revision: int = spec_field("the revision to count at", minimum=1)
    expect: int = spec_field("the number of keys there must be", minimum=0)


@dataclass(frozen=True, kw_only=True)
class CountAction(Action):
    etcd: EtcdConfig
    revision: int
    expect: int


class EtcdKeyCountKind(StepKind[CountSpec, CountAction]):
    name = "etcd_key_count"
    summary = "check the number of keys at a revision on each member"
    Spec = CountSpec

    def plan(self, spec: CountSpec, ctx: StepContext) -> CountAction:
        command = count_command(ctx.etcd, spec.revision)
        return CountAction(
            intent=f"check that {ctx.host} has {spec.expect} keys at revision {spec.revision}",
            commands=(command,),
            etcd=ctx.etcd,
            revision=spec.revision,
            expect=spec.expect,
        )

    def execute(self, action: CountAction, ex: ExecContext) -> Outcome:
        count = parse_count(ex.run(count_command(action.etcd, action.revision)).stdout)
        if count != action.expect:
            raise StepFailed(
                ex.step,
                ex.host,
                f"has {count} keys at revision {action.revision}, the snapshot has {action.expect}",
            )
        return Outcome.ok(f"{count} keys at revision {action.revision}")


# ----- etcd_endpoint_status --------------------------------------------------------
@dataclass(frozen=True)
class StatusSpec:
    cluster: bool = spec_field(
        "every member of the inventory's etcd group (else the host's own)", False
    )
    message: str = spec_field("text printed above the table", "")


@dataclass(frozen=True, kw_only=True)
class StatusAction(Action):
    etcd: EtcdConfig
    endpoints: tuple[str, ...]
    message: str


class EtcdEndpointStatusKind(StepKind[StatusSpec, StatusAction]):
    name = "etcd_endpoint_status"
    summary = "print endpoint status (version, db size, leader, raft index, revision) as a table"
    Spec = StatusSpec
    default_timeout = 30.0

    def plan(self, spec: StatusSpec, ctx: StepContext) -> StatusAction:
        endpoints = tuple(endpoints_of(ctx.inventory)) if spec.cluster else (ctx.etcd.client_url,)
        command = etcdctl(ctx.etcd, "endpoint", "status", "-w", "json", endpoints=list(endpoints))
        return StatusAction(
            intent=f"show endpoint status of {', '.join(endpoints)}",
            commands=(command,),
            etcd=ctx.etcd,
            endpoints=endpoints,
            message=spec.message,
        )

    def execute(self, action: StatusAction, ex: ExecContext) -> Outcome:
        out = ex.run(
            etcdctl(
                action.etcd, "endpoint", "status", "-w", "json", endpoints=list(action.endpoints)
            )
        )
        lines = [action.message.rstrip()] if action.message.strip() else []
        lines.append(
            f"{'HOST':<10} {'ID':<17} {'VERSION':<8} {'DB SIZE':>9} {'IN USE':>9} {'LEADER':<6} "
            f"{'TERM':>5} {'INDEX':>8} {'REVISION':>9}"
        )
        for s in parse_endpoint_status(out.stdout):
            lines.append(
                f"{host_of_url(ex.inventory, s.endpoint):<10} {s.member_id:<17x} {s.version:<8} "
                f"{mb(s.db_size):>9} {mb(s.db_size_in_use):>9} {'*' if s.is_leader else '':<6} "
                f"{s.raft_term:>5} {s.raft_index:>8} {s.revision:>9}"
            )
        return Outcome.ok("\n".join(lines))
