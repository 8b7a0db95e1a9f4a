"""`etcd_learner_catchup`: wait (bounded) until a learner has caught up with the leader; a learner
that never starts or stops catching up is removed, with the reason, and the step fails naming it.

A learner does not count toward quorum, but one left behind blocks the next `member add
--learner` (etcd allows one learner by default) and every later membership change that checks
for pending learners. k3s removes a learner stalled 5 minutes; kubeadm removes one that never
starts (kubernetes#136014). `keep_stalled: true` leaves it in place (the advice names how to
promote or remove it), as etcdops did before.

"Never started": the learner has not answered its status once within the timeout. "Stopped
catching up": it answered, but its applied index did not move for `stall` seconds (or the timeout
ran out) while it was still behind. The removal is asked on the step's host, found in the live
member list by the learner's peer URL, and only while it is still a learner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from etcdops.commands import Command
from etcdops.errors import StepFailed
from etcdops.facts.model import ClusterFacts
from etcdops.facts.parse import parse_member_list
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_member import change_command, find_member, list_command
from etcdops.steps.spec import spec_field

INTERVAL = 0.25


@dataclass(frozen=True)
class LearnerCatchupSpec:
    host: str = spec_field("the inventory host of the learner")
    timeout: float = spec_field("seconds for the learner to catch up", 300.0, minimum=1)
    stall: float = spec_field(
        "seconds without progress after which an answering learner is stalled", 60.0, minimum=1
    )
    keep_stalled: bool = spec_field("leave a stalled learner in place (do not remove it)", False)


@dataclass(frozen=True, kw_only=True)
class LearnerCatchupAction(Action):
    learner: str
    name: str
    peer_url: str
    ctl: EtcdConfig
    remove: Command
    wait: float
    stall: float
    keep_stalled: bool


@dataclass
class _Watch:
    """What the polls saw of the learner: whether it ever answered, its last progress."""

    answered: bool = False
    applied: int = -1
    leader: int = 0
    moved_at: float = 0.0

    def see(self, facts: ClusterFacts, host: str, now: float) -> None:
        progress = facts.learner_progress(host)
        if progress is None:
            return
        if not self.answered or progress[0] > self.applied:
            self.moved_at = now
        self.answered = True
        self.applied, self.leader = progress

    def state(self) -> str:
        if not self.answered:
            return (
                "the learner is not answering yet (etcd serves clients once it has published "
                "itself to the cluster; after a snapshot from the leader that can take 5 s + 2 "
                "election timeouts)"
            )
        return f"applied index {self.applied} of the leader's {self.leader}"


class EtcdLearnerCatchupKind(StepKind[LearnerCatchupSpec, LearnerCatchupAction]):
    name = "etcd_learner_catchup"
    summary = "wait until a learner has caught up; remove one that never starts or stalls"
    Spec = LearnerCatchupSpec
    shorthand = "host"
    default_timeout = 330.0
    heartbeat = False

    def plan(self, spec: LearnerCatchupSpec, ctx: StepContext) -> LearnerCatchupAction:
        learner = ctx.etcd_of(spec.host)
        ctl = ctx.etcd
        remove = change_command("remove", ctl, learner.name, learner.peer_url)
        if spec.keep_stalled:
            then = "leave it in place if it does not (keep_stalled)"
        else:
            then = (
                f"remove it if it never starts or makes no progress for {spec.stall:g}s "
                "(a learner does not count toward quorum), and fail naming why"
            )
        return LearnerCatchupAction(
            intent=(
                f"wait up to {spec.timeout:g}s until the learner {spec.host} has caught up with "
                f"the leader; {then}"
            ),
            commands=() if spec.keep_stalled else (remove,),
            reads=(list_command(ctl),),
            learner=spec.host,
            name=learner.name,
            peer_url=learner.peer_url,
            ctl=ctl,
            remove=remove,
            wait=spec.timeout,
            stall=spec.stall,
            keep_stalled=spec.keep_stalled,
        )

    def execute(self, action: LearnerCatchupAction, ex: ExecContext) -> Outcome:
        start = time.monotonic()
        watch = _Watch(moved_at=start)
        for _poll in range(int(action.wait / INTERVAL) + 2):  # bounded in count and time
            began = time.monotonic()
            facts = ex.read_facts()
            member = facts.member_of(action.learner)
            if member is not None and not member.is_learner:
                return Outcome.ok(f"{action.learner} is a voter already")
            watch.see(facts, action.learner, began)
            if facts.caught_up(action.learner):
                return Outcome.ok(
                    f"caught up after {began - start:.1f}s ({watch.state()})",
                    report={"seconds": round(began - start, 1), "applied": watch.applied},
                )
            if watch.answered and began - watch.moved_at >= action.stall:
                break
            ex.waiting(began - start, action.wait, watch.state())
            if began + INTERVAL - start > action.wait:
                break
            ex.sleep(max(0.0, INTERVAL - (time.monotonic() - began)))
        return self._stalled(action, ex, watch, time.monotonic() - start)

    def _stalled(
        self, action: LearnerCatchupAction, ex: ExecContext, watch: _Watch, waited: float
    ) -> Outcome:
        if not watch.answered:
            why = f"the learner {action.learner} never started (no answer in {waited:.0f}s)"
        else:
            still = time.monotonic() - watch.moved_at
            why = (
                f"the learner {action.learner} stopped catching up ({watch.state()}, no progress "
                f"for {still:.0f}s)"
            )
        if action.keep_stalled:
            raise StepFailed(
                ex.step,
                ex.host,
                f"{why}; left in place as a learner (-p keep_stalled=true): it does not count "
                f"toward quorum. Promote it once it has caught up, or remove it: "
                f"{action.ctl.etcdctl} member list, then member remove ID",
            )
        _cluster, members = parse_member_list(ex.run(list_command(action.ctl)).stdout)
        member = find_member(members, action.peer_url, "")
        if member is None:
            raise StepFailed(ex.step, ex.host, f"{why}; it is no longer in the member list")
        if not member.is_learner:
            return Outcome.ok(f"{action.learner} was promoted meanwhile ({member.id_hex})")
        ex.run(action.remove.fill(MEMBER_ID=member.id_hex))
        raise StepFailed(
            ex.step,
            ex.host,
            f"{why}; removed it from the cluster (member {member.id_hex}; a learner does not "
            f"count toward quorum, the voters are as they were). Stop etcd on {action.learner} "
            "and look at its log; its data dir is left as it is (run again with -p wipe=true "
            "to move it aside), or -p keep_stalled=true to leave such a learner in place",
        )
