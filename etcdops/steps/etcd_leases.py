"""`etcd_leases`: revoke every lease the cluster holds (and so every key attached to one).

After a restore, every lease came back from the snapshot: a Patroni leader key, Kubernetes'
master leases and events, a lock. Their holders are gone or hold newer leases now; kept, they
would get a full TTL once the restored cluster elects a leader and name the wrong owner. Run
while the restored cluster is fenced (no client reaches it yet): the keys are gone before any
client connects.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import CommandFailed
from etcdops.facts.parse import parse_lease_list
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field

LEASE_ID = Live("LEASE_ID")  # each lease the live list holds, in hex


@dataclass(frozen=True)
class LeasesSpec:
    revoke: bool = spec_field("revoke every lease the cluster holds", True)


@dataclass(frozen=True, kw_only=True)
class LeasesAction(Action):
    listing: Command
    revoke: Command


def list_command(etcd: EtcdConfig) -> Command:
    return etcdctl(etcd, "lease", "list", "-w", "json").reads()


class EtcdLeasesKind(StepKind[LeasesSpec, LeasesAction]):
    name = "etcd_leases"
    summary = "revoke every lease the cluster holds, and the keys attached to them"
    Spec = LeasesSpec
    shorthand = "revoke"
    default_timeout = 120.0

    def plan(self, spec: LeasesSpec, ctx: StepContext) -> LeasesAction:
        listing = list_command(ctx.etcd)
        revoke = etcdctl(ctx.etcd, "lease", "revoke", LEASE_ID)
        return LeasesAction(
            intent=f"revoke every lease the cluster holds (listed on {ctx.host} right before), "
            "and with them every key attached to one",
            commands=(revoke,),
            reads=(listing,),
            listing=listing,
            revoke=revoke,
        )

    def execute(self, action: LeasesAction, ex: ExecContext) -> Outcome:
        leases = parse_lease_list(ex.run(action.listing).stdout)
        if not leases:
            return Outcome.ok("no lease to revoke")
        gone = 0
        for lease in leases:
            revoke = action.revoke.fill(LEASE_ID=f"{lease:x}")
            result = ex.run(revoke, check=False)
            # expired or revoked since it was listed is as good as revoked
            if not result.ok and "lease not found" not in result.stderr:
                raise CommandFailed(ex.host, revoke.display, result.exit_code, result.stderr)
            gone += 1
        return Outcome.changed(f"revoked {gone} lease(s)", report={"leases_revoked": gone})
