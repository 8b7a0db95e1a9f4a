"""Quorum arithmetic and the refusals of membership changes, and how the membership
runbooks plan against fixture facts."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from etcdops.facts.gather import assemble
from etcdops.facts.model import EndpointStatus, HostFacts, Member
from etcdops.facts.sections import host_facts_from_output
from etcdops.inventory import load_inventory
from etcdops.membership import Membership
from tests.helpers import LAB_INVENTORY, commands, lab_facts, plan_for


def m(*voters: tuple[str, bool], learners: tuple[str, ...] = ()) -> Membership:
    return Membership(voters=voters, learners=learners)


def test_add_is_refused_while_a_voter_is_unhealthy_or_a_learner_is_pending() -> None:
    assert "node2" in (
        m(("node1", True), ("node2", False), ("node3", True)).refusal("add_learner", "node4") or ""
    )
    assert "pending" in (
        m(("node1", True), learners=("node5",)).refusal("add_learner", "node4") or ""
    )
    assert (
        m(("node1", True), ("node2", True), ("node3", True)).refusal("add_learner", "node4") is None
    )
    # the same learner again (a repeated step) is not "another" pending learner
    assert m(("node1", True), learners=("node4",)).refusal("add_learner", "node4") is None


@pytest.mark.parametrize(
    ("voters", "remove", "refused"),
    [
        ([("a", True), ("b", True), ("c", False)], "c", None),  # dead one out: 2 of 2 healthy
        ([("a", True), ("b", False), ("c", False)], "c", "below"),  # 1 healthy of 2, quorum 2
        (
            [("a", True), ("b", True), ("c", True), ("d", False), ("e", False)],
            "a",
            "below",
        ),  # 2 of 4 < 3
        ([("a", True)], "a", "without a voter"),
        ([("a", True), ("b", True)], "a", None),  # 2 -> 1 voter is allowed
    ],
)
def test_remove_keeps_a_quorum_of_healthy_voters(voters, remove, refused) -> None:  # type: ignore[no-untyped-def]
    reason = Membership(voters=tuple(voters), learners=()).refusal("remove", remove)
    assert (reason is None) if refused is None else (refused in (reason or ""))


def test_promote_is_gated_on_every_voter_and_on_the_failures_tolerated_after_it() -> None:
    """Issue 28.5: 3 voters, one frozen, a learner caught up: promoting it leaves 4 voters, 3
    healthy, quorum 3: refused, and the learner stays a learner."""
    frozen = Membership(
        voters=(("node1", True), ("node2", True), ("node3", False)),
        learners=("node4",),
        healthy_learners=("node4",),
    )
    reason = frozen.refusal("promote", "node4") or ""
    assert "voter(s) node3 are unhealthy" in reason and "node4 stays a learner" in reason
    assert "4 voters need a quorum of 3, with 3 healthy: 0 failure(s) tolerated" in reason
    healthy = Membership(
        voters=(("node1", True), ("node2", True), ("node3", True)),
        learners=("node4",),
        healthy_learners=("node4",),
    )
    assert healthy.refusal("promote", "node4") is None
    # a learner that does not answer: 4 voters, 3 healthy, no failure tolerated where 1 was
    silent = Membership(voters=healthy.voters, learners=("node4",))
    assert "does not answer" in (silent.refusal("promote", "node4") or "")
    # a voter already: nothing to refuse (the kind reports it as done)
    assert frozen.refusal("promote", "node1") is None


def test_the_membership_now_reads_the_live_facts() -> None:
    from etcdops.membership import describe

    facts = lab_facts(load_inventory(LAB_INVENTORY))
    text = describe(facts, ["node3", "node4"])
    assert "voters node1, node2, node3;" in text and "learners none" in text
    assert "node3 is a voter (it counts toward quorum)." in text
    assert "node4 is not a member." in text


def test_removing_a_learner_does_not_touch_the_quorum() -> None:
    before = m(("a", True), learners=("b",))
    assert before.refusal("remove", "b") is None
    after = before.apply("remove", "b")
    assert after.voter_count == 1 and after.learners == ()


def test_scale_out_plan_shows_the_quorum_arithmetic(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    plan = plan_for(inv, "scale-out", ["host=node4"])
    assert not plan.failed_checks
    add = next(s for s in plan.steps if s.quorum and s.quorum.change == "add_learner")
    promote = next(s for s in plan.steps if s.quorum and s.quorum.change == "promote")
    assert (add.quorum.voters_before, add.quorum.voters_after, add.quorum.quorum_after) == (3, 3, 2)
    assert (
        promote.quorum.voters_after,
        promote.quorum.quorum_after,
        promote.quorum.tolerance_after,
    ) == (4, 3, 1)
    assert any("even number of voters (4)" in w for w in plan.warnings)
    cmd = shlex.split(commands(add)[add.hosts[0]][-1])
    assert cmd[cmd.index("member") :] == [
        "member",
        "add",
        "node4",
        "--learner",
        "--peer-urls=http://127.0.1.4:2380",
        "-w",
        "json",
    ]
    assert add.hosts[0] != "node1"  # a follower is asked, the leader (node1) is left alone


def test_scale_out_is_refused_while_a_voter_is_down(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    plan = plan_for(inv, "scale-out", ["host=node4"], facts=lab_facts(inv, down=("node3",)))
    failed = {c.exit_code: c for c in plan.failed_checks}
    assert 3 in failed and "node3" in failed[3].detail and "unhealthy" in failed[3].detail


def test_replace_removes_first_then_adds(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    plan = plan_for(
        inv, "replace-member", ["old=node3", "new=node4"], facts=lab_facts(inv, down=("node3",))
    )
    assert not plan.failed_checks
    changes = [(s.quorum.change, s.quorum.voters_after) for s in plan.steps if s.quorum]
    assert changes == [("remove", 2), ("add_learner", 2), ("promote", 3)]
    env = next(s for s in plan.steps if s.kind == "template").actions[0].action.content
    assert (
        "ETCD_INITIAL_CLUSTER=node1=http://127.0.1.1:2380,node2=http://127.0.1.2:2380,node4=" in env
    )
    assert "node3=" not in env and "ETCD_INITIAL_CLUSTER_STATE=existing" in env
    stop = next(s for s in plan.steps if s.name.startswith("Stop etcd on node3"))
    assert stop.on_unreachable == "skip"


def test_scale_in_of_the_leader_moves_leadership_first(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    facts = lab_facts(inv, leader="node1")
    plan = plan_for(inv, "scale-in", ["host=node1"], facts=facts)
    move = plan.step("Move leadership from node1")
    assert not move.skipped and move.hosts == ("node2",)  # asked on the member that takes over
    # the member id and the leader are read right before the step (issue 27: placeholders in the
    # plan for what is known only live); the intent names what they are now
    cmd = shlex.split(move.actions[0].action.commands[-1].display)
    assert cmd[-2:] == ["move-leader", "<MEMBER_ID>"]
    assert "--endpoints=<LEADER>" in cmd  # sent to the leader itself
    assert f"(member {facts.member_of('node2').id_hex})" in move.actions[0].action.intent
    remove = plan.step("Remove the member of node1")
    assert not remove.skipped and remove.quorum.voters_after == 2
    assert plan_for(inv, "scale-in", ["host=node2"], facts=facts).step("Move leadership").skipped


def test_a_learner_answers_status_only_and_counts_as_healthy(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    host = inv.host("node4")
    status = (
        '[{"Endpoint":"http://127.0.1.4:2379","Status":{"header":{"cluster_id":1,"member_id":4,'
        '"revision":5,"raft_term":2},"version":"3.5.16","dbSize":20480,"leader":1,"raftIndex":13,'
        '"raftTerm":2,"raftAppliedIndex":13,"dbSizeInUse":16384,"isLearner":true}}]'
    )
    out = f"@@version\netcd Version: 3.5.16\n@@rc 0\n@@status\n{status}\n@@rc 0\n@@stderr\n"
    facts = host_facts_from_output(host, out)
    assert facts.healthy and facts.status is not None and facts.status.is_learner


def test_a_leader_that_does_not_answer_is_no_leader(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    h = inv.host("node2")
    # node2 still names node1 (id 1) as leader, but node1 did not answer
    status = EndpointStatus(h.etcd.client_url, 9, 2, "3.5.16", 1, 1, 1, 2, 10, 10, 5, False)
    facts = assemble(
        inv,
        {"node2": HostFacts("node2", True, status, True)},
        [Member(1, "node1", ("http://127.0.1.1:2380",), (), False)],
        9,
        [],
    )
    assert facts.leader_host is None and not facts.has_quorum


def test_replace_finds_an_old_member_that_never_started_by_its_peer_url(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    hosts = {}
    members = []
    for i, name in enumerate(("node1", "node2", "node3"), 1):
        h = inv.host(name)
        started = name != "node3"
        members.append(
            Member(
                i,
                h.etcd.name if started else "",
                (h.etcd.peer_url,),
                (h.etcd.client_url,) if started else (),
                False,
            )
        )
        status = (
            EndpointStatus(h.etcd.client_url, 9, i, "3.5.16", 1, 1, 1, 2, 10, 10, 5, False)
            if started
            else None
        )
        hosts[name] = HostFacts(name, True, status, started)
    facts = assemble(inv, hosts, members, 9, [])
    assert facts.member_of("node3") is not None and not facts.member_of("node3").started
    plan = plan_for(inv, "replace-member", ["old=node3", "new=node4"], facts=facts)
    assert not plan.failed_checks
    remove = next(s for s in plan.steps if s.quorum and s.quorum.change == "remove")
    assert (
        remove.quorum.voters_after == 2
        and "http://127.0.1.3:2380" in remove.actions[0].action.intent
    )


def test_a_stalled_learner_is_removed_unless_kept() -> None:
    """join-as-learner's catch-up (scale-out, replace-member, recover): the plan shows the removal
    of a learner that never starts or stalls; -p keep_stalled=true plans none."""
    inv = load_inventory(LAB_INVENTORY)
    for params, removes in ((["host=node4"], True), (["host=node4", "keep_stalled=true"], False)):
        plan = plan_for(inv, "scale-out", params)
        (step,) = [s for s in plan.steps if s.kind == "etcd_learner_catchup"]
        (action,) = step.actions
        shown = [c.display for c in action.action.commands]
        assert bool([c for c in shown if "member remove <MEMBER_ID>" in c]) == removes, shown
        assert ("remove it if it never starts" in action.action.intent) == removes
