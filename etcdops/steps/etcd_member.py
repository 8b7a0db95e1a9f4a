"""`etcd_member`: change the membership, idempotent by peer URL.

The member is found in the live member list (`member list -w json`, parsed in Python) by its
peer URL (else by name): a member already added is not added again, one already removed is
not an error, a voter is not promoted. The plan's quorum arithmetic comes from this action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import Refused, StepFailed
from etcdops.facts.model import Member
from etcdops.facts.parse import (
    parse_endpoint_status,
    parse_health_list,
    parse_member_add,
    parse_member_list,
)
from etcdops.inventory import EtcdConfig
from etcdops.membership import Membership
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, Write
from etcdops.steps.etcd_reads import (
    health_command,
    health_read,
    host_of_url,
    status_command,
    status_read,
)
from etcdops.steps.spec import spec_field

Change = Literal["add_learner", "add", "promote", "remove", "update_peer_urls"]


@dataclass(frozen=True)
class MemberSpec:
    action: Change = spec_field(
        "add_learner, add (as a voter), promote, remove or update_peer_urls"
    )
    host: str = spec_field("the inventory host whose member this is (its etcd_name and peer URL)")


@dataclass(frozen=True, kw_only=True)
class MemberAction(Action):
    change: str
    host: str  # the inventory host the member is (not the one the command runs on)
    name: str
    peer_url: str
    ctl: EtcdConfig  # the etcd settings of the host the command runs on
    command: Command  # the change, its member id (and the leader) filled in when it runs

    @property
    def membership(self) -> tuple[str, str] | None:
        return None if self.change == "update_peer_urls" else (self.change, self.host)


def find_member(members: list[Member], peer_url: str, name: str) -> Member | None:
    url = peer_url.rstrip("/")
    by_url = next((m for m in members if url in (u.rstrip("/") for u in m.peer_urls)), None)
    return by_url or next((m for m in members if name and m.name == name), None)


def leader_url(ex: ExecContext, ctl: EtcdConfig, members: list[Member]) -> str:
    """The client URL of the leader, from the voters' endpoint status (the host's own when none
    says)."""
    urls = [u for m in members if not m.is_learner for u in m.client_urls]
    result = ex.run(status_command(ctl, urls or None), check=False)
    try:
        statuses = parse_endpoint_status(result.stdout)
    except ValueError:
        return ctl.client_url
    return next((s.endpoint for s in statuses if s.is_leader), ctl.client_url)


def promote_refusal(ex: ExecContext, action: MemberAction, members: list[Member]) -> str | None:
    """Why the learner is not promoted at this moment (membership.py: a voter unhealthy, or no
    failure tolerated after it where one was before), from every voter's `endpoint health` read
    right before the promote: the runner's re-check came before the step, and its retries
    (the learner not yet in sync) can take minutes. The learner counts as healthy here: it has
    caught up (the step before waits for it)."""
    urls = [u for m in members if not m.is_learner for u in m.client_urls[:1]]
    if not urls:
        return None
    result = ex.run(health_command(action.ctl, urls), check=False)
    try:
        health = {  # an alarm is not ill health: the member serves (unhealthy() alike)
            url.rstrip("/"): ok or "Active Alarm" in (error or "")
            for url, ok, error in parse_health_list(result.stdout)
        }
    except ValueError:
        health = {}
    voters = tuple(
        (host_of_url(ex.inventory, url), health.get(url.rstrip("/"), False)) for url in urls
    )
    now = Membership(voters=voters, learners=(action.host,), healthy_learners=(action.host,))
    return now.refusal("promote", action.host)


def list_command(etcd: EtcdConfig) -> Command:
    return etcdctl(etcd, "member", "list", "-w", "json").reads()


MEMBER_ID = Live("MEMBER_ID")  # the member's id in the live member list, found by its peer URL
LEADER = Live("LEADER")  # the leader's client URL, read right before (a promote is sent there)


def change_command(change: str, ctl: EtcdConfig, name: str, peer_url: str) -> Command:
    """The membership change as it runs; the member's id and the leader are filled in then."""
    if change in ("add_learner", "add"):
        learner = ("--learner",) if change == "add_learner" else ()
        return etcdctl(
            ctl, "member", "add", name, *learner, f"--peer-urls={peer_url}", "-w", "json"
        )
    if change == "promote":
        # sent to the leader itself: with auth enabled, a follower forwards a promote without the
        # caller's credentials and the leader refuses it (etcd#20757; fixed after 3.5.16)
        return etcdctl(ctl, "member", "promote", MEMBER_ID, endpoints=LEADER)
    if change == "remove":
        return etcdctl(ctl, "member", "remove", MEMBER_ID)
    return etcdctl(ctl, "member", "update", MEMBER_ID, f"--peer-urls={peer_url}")


class EtcdMemberKind(StepKind[MemberSpec, MemberAction]):
    name = "etcd_member"
    summary = (
        "add (as learner), promote, remove a member or update its peer URLs; idempotent by peer URL"
    )
    Spec = MemberSpec
    default_timeout = 60.0

    def plan(self, spec: MemberSpec, ctx: StepContext) -> MemberAction:
        target = ctx.etcd_of(spec.host)
        ctl = ctx.etcd
        change_cmd = change_command(spec.action, ctl, target.name, target.peer_url)
        words = {
            "add_learner": f"add {spec.host} ({target.peer_url}) as a learner",
            "add": f"add {spec.host} ({target.peer_url}) as a voter",
            "promote": f"promote the learner {spec.host} ({target.peer_url}) to a voter",
            "remove": f"remove the member of {spec.host} ({target.peer_url})",
            "update_peer_urls": f"set the peer URLs of {spec.host}'s member to {target.peer_url}",
        }[spec.action]
        writes: tuple[Write, ...] = ()
        if spec.action in ("add_learner", "add"):  # the new member receives a copy of the database
            leader = ctx.facts.status_of(ctx.facts.leader_host) if ctx.facts.leader_host else None
            writes = (
                Write(
                    spec.host,
                    target.data_dir,
                    leader.db_size if leader else 0,
                    "the new member's copy of the database",
                ),
            )
        known = find_member(list(ctx.facts.members), target.peer_url, target.name)
        reads: tuple[Command, ...] = (list_command(ctl),)
        if spec.action == "promote":  # the voters' health and who leads are read right before
            reads += (health_read(ctl), status_read(ctl))
        now = f" (member {known.id_hex} now)" if known and spec.action != "add_learner" else ""
        return MemberAction(
            intent=f"{words}{now}, asked on {ctx.host}; nothing if already done "
            "(found by peer URL)",
            commands=(change_cmd,),
            reads=reads,
            change=spec.action,
            host=spec.host,
            name=target.name,
            peer_url=target.peer_url,
            ctl=ctl,
            command=change_cmd,
            writes=writes,
        )

    def execute(self, action: MemberAction, ex: ExecContext) -> Outcome:
        _cluster, members = parse_member_list(ex.run(list_command(action.ctl)).stdout)
        # by peer URL; by name only to remove (a member whose host was rebuilt with another address)
        by_name = action.name if action.change == "remove" else ""
        member = find_member(members, action.peer_url, by_name)
        if action.change in ("add_learner", "add"):
            if member is not None:
                role = "learner" if member.is_learner else "voter"
                return Outcome.ok(
                    f"already in the member list as {role} {member.id_hex}: not added again"
                )
            new_id, learner = parse_member_add(ex.run(action.command).stdout)
            role = "learner" if learner else "voter"
            return Outcome.changed(f"added {action.name} as {role} {new_id:x}")
        if action.change == "remove":
            if member is None:
                return Outcome.ok(f"{action.peer_url} is not in the member list: already removed")
            ex.run(action.command.fill(MEMBER_ID=member.id_hex))
            return Outcome.changed(
                f"removed member {member.id_hex} ({member.name or action.peer_url})"
            )
        if member is None:
            raise StepFailed(ex.step, ex.host, f"{action.peer_url} is not in the member list")
        if action.change == "promote":
            if not member.is_learner:
                return Outcome.ok(f"already a voter: {member.id_hex}")
            refusal = promote_refusal(ex, action, members)
            if refusal:
                raise Refused(f"{refusal}; nothing of this step was done")
            leader = leader_url(ex, action.ctl, members)
            ex.run(action.command.fill(MEMBER_ID=member.id_hex, LEADER=leader))
            return Outcome.changed(
                f"promoted {member.id_hex} to a voter (asked of the leader, {leader})"
            )
        if action.peer_url in member.peer_urls and len(member.peer_urls) == 1:
            return Outcome.ok(f"{member.id_hex} already has peer URL {action.peer_url}")
        ex.run(action.command.fill(MEMBER_ID=member.id_hex))
        return Outcome.changed(f"{member.id_hex}: peer URLs set to {action.peer_url}")
