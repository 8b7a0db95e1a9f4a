"""`etcd_leases`: revoke every lease the cluster holds (and so every key attached to one).

After a restore, every lease came back from the snapshot: a Patroni leader key, Kubernetes'
master leases and events, a lock. Their holders are gone or hold newer leases now; kept, they
would get a full TTL once the restored cluster elects a leader and name the wrong owner. Run
while the restored cluster is fenced (no client reaches it yet): the keys are gone before any
client connects.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from etcdops.commands import Command, Live, etcdctl, join_lines
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
            f"and with them every key attached to one; the revoke below once per lease, up to "
            f"{BATCH} in one remote command",
            commands=(revoke,),
            reads=(listing,),
            listing=listing,
            revoke=revoke,
        )

    def execute(self, action: LeasesAction, ex: ExecContext) -> Outcome:
        leases = parse_lease_list(ex.run(action.listing).stdout)
        if not leases:
            return Outcome.ok("no lease to revoke")
        # the planned revoke once per lease, BATCH to a command line: one round trip for many
        # (a Kubernetes restore brings back dozens), inside the clients' outage
        for start in range(0, len(leases), BATCH):
            _revoke_all(ex, action.revoke, leases[start : start + BATCH])
        gone = len(leases)
        return Outcome.changed(f"revoked {gone} lease(s)", report={"leases_revoked": gone})


BATCH = 64  # revokes per remote command: ~30 KB of command line with TLS flags, under any limit


def _revoke_all(ex: ExecContext, revoke: Command, leases: list[int]) -> None:
    """Each lease revoked by the planned command, one per line of one remote command; etcdctl
    says `lease ID revoked` for each that was. One that expired or was revoked since it was
    listed is as good as revoked; any other refusal fails the step, naming it."""
    batch = replace(
        join_lines(revoke.fill(LEASE_ID=f"{lease:x}") for lease in leases), origin=revoke.planned
    )
    result = ex.run(batch, check=False)
    said = set(result.stdout.split())
    refused = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("Error") and "lease not found" not in line
    ]
    missing = [lease for lease in leases if f"{lease:016x}" not in said]  # etcdctl's %016x
    not_found = sum("lease not found" in line for line in result.stderr.splitlines())
    if refused or len(missing) > not_found:
        raise CommandFailed(
            ex.host, revoke.display, result.exit_code or 1, "\n".join(refused) or result.stderr
        )
