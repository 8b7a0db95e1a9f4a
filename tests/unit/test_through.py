"""The re-reads of a run through one member host (etcdops/facts/through.py), on real answers:
the via host's curl as the lab printed it (tests/fixtures/gateway/through-*.out, README there)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from etcdops.errors import ConnectError
from etcdops.facts import gateway
from etcdops.facts.gather import gather
from etcdops.facts.through import KINDS, Through, settled
from etcdops.inventory import Inventory, load_inventory
from etcdops.steps.wait import read_through
from etcdops.transport import Result
from etcdops.transport.pool import Pool
from tests.conftest import FIXTURES
from tests.helpers import LAB_INVENTORY

GATEWAY = FIXTURES / "gateway"
MEMBERS = ("node1", "node2", "node3")


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(LAB_INVENTORY)


def answers_of(inventory: Inventory, name: str) -> dict[tuple[str, str], gateway.Answer]:
    urls = [inventory.host(h).etcd.client_url for h in MEMBERS]  # type: ignore[union-attr]
    return gateway.parse((GATEWAY / name).read_text(), gateway.requests_of(urls, KINDS))


def members(inventory: Inventory) -> list[Any]:
    return [inventory.host(h) for h in MEMBERS]


def test_every_healthy_member_is_settled_by_one_curl(inventory: Inventory) -> None:
    found = settled(members(inventory), answers_of(inventory, "through-3.5.out"))
    assert sorted(found) == list(MEMBERS)
    ids = {gateway.status_of(status)["header"]["member_id"] for status, _ in found.values()}  # type: ignore[index]
    assert len(ids) == 3 and all(
        listed is not None and listed.code == 200 for _, listed in found.values()
    )


def test_a_stopped_member_is_left_for_its_own_read(inventory: Inventory) -> None:
    answers = answers_of(inventory, "through-stopped-3.5.out")
    assert answers[("status", "http://127.0.1.3:2379")].code == 0  # curl: connection refused
    assert sorted(settled(members(inventory), answers)) == ["node1", "node2"]


def test_two_hosts_answered_by_one_member_settle_neither(inventory: Inventory) -> None:
    """A client URL that reaches the asking host's etcd (127.0.0.1, say) for two hosts."""
    hosts = members(inventory)
    shared = replace(hosts[2], etcd=replace(hosts[2].etcd, client_url=hosts[1].etcd.client_url))
    found = settled([hosts[0], hosts[1], shared], answers_of(inventory, "through-3.5.out"))
    assert sorted(found) == ["node1"]


def test_no_quorum_a_34_server_and_a_learner(inventory: Inventory) -> None:
    host = inventory.host("node1")
    url = host.etcd.client_url  # type: ignore[union-attr]

    def one(name: str) -> dict[tuple[str, str], gateway.Answer]:
        body = (GATEWAY / name).read_text().split("@@gateway\n", 1)[1].split("@@stderr")[0]
        return gateway.parse(body, gateway.requests_of([url], KINDS))

    assert settled([host], one("no-quorum-3.5.out")) == {}  # answers status, serves no quorum read
    assert (
        settled([host], one("voter-3.4.out")) == {}
    )  # 3.4 ignores linearizable: read through etcdctl
    learner = settled([host], one("learner-3.5.out"))  # refuses the member list, as learners do
    assert list(learner) == ["node1"] and learner["node1"][1] is None


class Stand:
    """A stand-in transport printing what the lab's hosts printed (this is the parsers' and the
    bookkeeping's path; tests/integration/test_through.py runs the real thing)."""

    def __init__(
        self,
        name: str,
        through: str,
        calls: list[tuple[str, str]],
        fail: BaseException | None = None,
    ) -> None:
        self.name, self.through, self.calls, self.fail = name, through, calls, fail

    def run(self, command: str, timeout: float, env: object = None) -> Result:
        kind = "through" if is_through(command) else "own"
        self.calls.append((self.name, kind))
        if self.fail is not None:
            raise self.fail
        return Result(0, self.through if kind == "through" else own_read(self.name), "")


def is_through(command: str) -> bool:
    """The via host's curl, not a host's own facts script (which prints its @@gateway section)."""
    return "member/list" in command and "@@gateway\\n" not in command


def own_read(host: str) -> str:
    """A host's own facts script output (versions known: its gateway section), captured
    alongside."""
    return (GATEWAY / f"own-{host}-3.5.out").read_text()


def pool_of(
    inventory: Inventory,
    monkeypatch: pytest.MonkeyPatch,
    through_file: str,
    calls: list[tuple[str, str]],
    fail: dict[str, BaseException] | None = None,
) -> Pool:
    pool = Pool(inventory)
    through = (GATEWAY / through_file).read_text()
    monkeypatch.setattr(
        pool, "_make", lambda name: Stand(name, through, calls, (fail or {}).get(name))
    )
    return pool


def test_a_healthy_cluster_is_read_in_one_command_on_the_via_host(
    inventory: Inventory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[str, str]] = []
    through = Through(inventory, pool_of(inventory, monkeypatch, "through-3.5.out", calls), "node2")
    facts = gather(inventory, through.pool, versions=False, through=through)
    assert calls == [("node2", "through")]
    assert facts.healthy and facts.member_lists_agree and facts.leader_host in MEMBERS
    assert {hf.through for hf in facts.hosts.values()} == {"node2"}
    assert (
        read_through(facts) == " (etcd of 3 of 3 members read through node2)"
    )  # the wait's result line


def test_a_missed_member_is_read_over_its_own_ssh(inventory: Inventory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[str, str]] = []
    through = Through(
        inventory, pool_of(inventory, monkeypatch, "through-stopped-3.5.out", calls), "node2"
    )
    facts = gather(inventory, through.pool, versions=False, through=through)
    assert calls == [("node2", "through"), ("node3", "own")]
    assert facts.hosts["node3"].through == "" and facts.hosts["node1"].through == "node2"
    # its own read answered (the stand-in's captured voter): the via host cannot see it, so the
    # rest of the run reads it over its own SSH, alongside the via host's curl for the others
    assert through.direct == {"node3"} and not through.asks("node3") and through.asks("node1")


def test_a_member_down_in_its_own_read_too_goes_back_through_once_healthy(
    inventory: Inventory,
) -> None:
    from tests.helpers import lab_facts

    through = Through(inventory, Pool(inventory), "node2")
    through.missed = {"node3"}
    through.observe(lab_facts(inventory, down=("node3",)))
    assert through.unsure == {"node3"} and not through.asks("node3") and not through.direct
    through.observe(lab_facts(inventory))  # its own read found it healthy
    assert through.asks("node3")


@pytest.mark.parametrize("lost", [True, False])
def test_a_via_host_that_cannot_read_hands_over(
    inventory: Inventory, monkeypatch, lost: bool
) -> None:  # type: ignore[no-untyped-def]
    """SSH to the via host lost, or no curl there: every member is read over its own SSH this
    time, and another healthy member host reads next time."""
    calls: list[tuple[str, str]] = []
    pool = Pool(inventory)
    fail = ConnectError("node2", "connection refused") if lost else None
    monkeypatch.setattr(
        pool,
        "_make",
        lambda name: Stand(name, gateway.NO_CURL, calls, fail if name == "node2" else None),
    )
    through = Through(inventory, pool, "node2")
    facts = gather(inventory, pool, versions=False, through=through)
    assert sorted(h for h, kind in calls if kind == "own") == list(MEMBERS)
    assert facts.hosts["node2"].reachable is not lost and facts.hosts["node1"].healthy
    assert through.failed == {"node2"} and through.via in ("node1", "node3")
    assert not any(hf.through for hf in facts.hosts.values())
    assert not through.direct and through.asks("node1")  # a failed read tells nothing of the others


def test_a_refused_gateway_turns_the_through_reads_off(inventory: Inventory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """etcd auth on with a client certificate: etcd refuses its gateway (the refusal's real
    text)."""
    calls: list[tuple[str, str]] = []
    pool = pool_of(inventory, monkeypatch, "through-3.5.out", calls)
    refusal = (
        '{"error":"' + gateway.REFUSED + '","code":3,"message":"' + gateway.REFUSED + '"}\n'
        "@@gateway 400 status 0\n@@error \n"
    )
    monkeypatch.setattr(pool, "_make", lambda name: Stand(name, refusal, calls))
    through = Through(inventory, pool, "node2")
    gather(inventory, pool, versions=False, through=through)
    assert through.off and not through.asks("node1")


def test_no_via_host_until_a_member_is_healthy(inventory: Inventory) -> None:
    """A run planned on a cluster with no healthy member (a restore of a dead cluster): every member
    is read over its own SSH until a read finds a healthy voter, whose host then reads for all."""
    from tests.helpers import lab_facts

    through = Through(inventory, Pool(inventory), None, avoid=("node1",))
    assert not any(through.asks(h) for h in MEMBERS)
    through.observe(lab_facts(inventory, leader=None, down=MEMBERS))
    assert through.via is None and not through.unsure
    through.observe(lab_facts(inventory, leader="node2"))
    assert through.via == "node3" and all(
        through.asks(h) for h in MEMBERS
    )  # a follower, never the avoided
