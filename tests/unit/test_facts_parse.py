from __future__ import annotations

from etcdops.facts.gather import assemble
from etcdops.facts.model import HostFacts
from etcdops.facts.parse import (
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
    parse_snapshot_status,
)
from etcdops.facts.sections import host_facts_from_output
from tests.conftest import FIXTURES
from tests.helpers import LAB_INVENTORY

CAPTURED = FIXTURES / "etcdctl"


def test_member_list_ids_are_decimal_in_json_and_hex_for_people() -> None:
    cluster_id, members = parse_member_list((CAPTURED / "member-list-3.5.json").read_text())
    assert cluster_id == 6025627862417107669 and len(members) == 3
    node1 = next(m for m in members if m.name == "node1")
    assert node1.id_hex == "f93fe5ea634e5539" and not node1.is_learner and node1.started


def test_endpoint_status_and_health() -> None:
    statuses = parse_endpoint_status((CAPTURED / "endpoint-status-3.5.json").read_text())
    assert [s.is_leader for s in statuses].count(True) == 1
    assert all(s.version == "3.5.16" and s.db_size == 20480 and s.revision == 2 for s in statuses)
    health = parse_endpoint_health((CAPTURED / "endpoint-health-3.5.json").read_text())
    assert all(ok for ok, _ in health.values()) and len(health) == 3


def test_snapshot_status() -> None:
    st = parse_snapshot_status((CAPTURED / "snapshot-status-3.5.json").read_text())
    assert (st.revision, st.total_keys, st.total_size) == (2, 9, 20480)


def test_facts_script_output_with_a_down_member(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.inventory import load_inventory

    inv = load_inventory(LAB_INVENTORY)
    status = (CAPTURED / "endpoint-status-3.5.json").read_text()
    down_err = (CAPTURED / "endpoint-status-down.stderr").read_text().strip().splitlines()[-1]
    ok_output = "\n".join(
        [
            "@@version",
            "etcd Version: 3.5.16",
            "@@rc 0",
            "@@status",
            status.replace('[{"Endpoint":"http://127.0.1.1:2379"', '[{"Endpoint":"x"'),
            "@@rc 0",
            "@@health",
            '[{"endpoint":"http://127.0.1.1:2379","health":true}]',
            "@@rc 0",
            "@@members",
            (CAPTURED / "member-list-3.5.json").read_text(),
            "@@rc 0",
        ]
    )
    down_output = (
        f"@@version\netcd Version: 3.5.16\n@@rc 0\n@@stderr\n"
        f"@@status\n\n@@rc 1\n@@stderr\n{down_err}\n\n"
    )
    hf1 = host_facts_from_output(inv.host("node1"), ok_output)
    hf3 = host_facts_from_output(inv.host("node3"), down_output)
    assert hf1.healthy and hf1.etcd_version == "3.5.16"
    assert (
        not hf3.healthy and hf3.status is None and "context deadline exceeded" in (hf3.error or "")
    )
    _, members = parse_member_list((CAPTURED / "member-list-3.5.json").read_text())
    facts = assemble(
        inv,
        {
            "node1": hf1,
            "node3": hf3,
            "node2": HostFacts(host="node2", reachable=False, error="no route"),
        },
        members,
        None,
        [],
    )
    assert not facts.healthy and facts.unreachable == ["node2"]
    assert facts.quorum == 2 and facts.tolerance == 1 and len(facts.voters) == 3


def test_alarms_come_from_endpoint_status_on_3_5_and_3_4(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.facts.parse import parse_status_alarms
    from etcdops.facts.sections import ClusterView
    from etcdops.inventory import load_inventory

    for name in ("endpoint-status-nospace.json", "endpoint-status-nospace-3.4.json"):
        status = parse_endpoint_status((CAPTURED / name).read_text())[0]
        assert [(a.member_id, a.alarm) for a in parse_status_alarms(status.errors)] == [
            (15024778627834509036, "NOSPACE")
        ]
    assert parse_status_alarms(["etcdserver: no leader"]) == []
    inv = load_inventory(LAB_INVENTORY)
    text = (
        (CAPTURED / "endpoint-status-nospace.json").read_text().replace("127.0.50.1", "127.0.1.1")
    )
    parts = ClusterView()
    hf = host_facts_from_output(inv.host("node1"), f"@@status\n{text}\n@@rc 0\n@@stderr\n", parts)
    facts = assemble(inv, {"node1": hf}, [], None, parts.alarms)
    assert [a.alarm for a in facts.alarms] == ["NOSPACE"] and hf.etcd_version == "3.5.16"


def test_an_alarm_alone_does_not_make_a_member_unhealthy(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.facts.sections import host_facts_from_output
    from etcdops.inventory import load_inventory

    host = load_inventory(LAB_INVENTORY).host("node1")
    status = (FIXTURES / "etcdctl" / "endpoint-status-3.5.json").read_text()
    health = (
        (FIXTURES / "etcdctl" / "endpoint-health-nospace.json")
        .read_text()
        .replace("127.0.8.1", "127.0.1.1")
    )
    out = (
        f"@@status\n{status}\n@@rc 0\n@@health\n{health}\n@@rc 1\n"
        "@@stderr\nError: unhealthy cluster\n"
    )
    assert host_facts_from_output(host, out).healthy


def test_a_linearizable_member_list_stands_for_health_when_no_health_was_read(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.inventory import load_inventory

    host = load_inventory(LAB_INVENTORY).host("node1")
    status = (CAPTURED / "endpoint-status-3.5.json").read_text()
    members = (CAPTURED / "member-list-3.5.json").read_text()
    listed = host_facts_from_output(
        host, f"@@status\n{status}\n@@rc 0\n@@stderr\n@@members\n{members}\n@@rc 0\n"
    )
    assert listed.healthy and listed.health_error is None and listed.member_ids
    cut = host_facts_from_output(
        host,
        f"@@status\n{status}\n@@rc 0\n@@stderr\n@@members\n\n@@rc 1\n@@stderr\n"
        "Error: context deadline exceeded\n",
    )
    assert (
        not cut.healthy
        and cut.health_error == "Error: context deadline exceeded"
        and cut.status is not None
    )


GATEWAY = (
    FIXTURES / "gateway"
)  # etcd's JSON gateway as the facts script prints it (real etcd 3.5.16, 3.4.23)


def test_the_gateways_status_and_member_list_read_as_etcdctls(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.inventory import load_inventory

    host = load_inventory(LAB_INVENTORY).host("node1")
    hf = host_facts_from_output(host, (GATEWAY / "voter-3.5.out").read_text())
    assert hf.healthy and hf.health_error is None and hf.error is None and hf.status is not None
    assert (
        hf.status.member_id == 7224234570920154556
        and hf.status.is_leader
        and hf.status.version == "3.5.16"
    )
    assert (
        hf.status.db_size == 20480
        and hf.status.db_size_in_use == 16384
        and not hf.status.is_learner
    )
    assert (
        hf.member_ids is not None
        and len(hf.member_ids) == 3
        and hf.status.member_id in hf.member_ids
    )


def test_a_member_without_quorum_is_not_healthy_through_the_gateway(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.inventory import load_inventory

    host = load_inventory(LAB_INVENTORY).host("node1")
    hf = host_facts_from_output(host, (GATEWAY / "no-quorum-3.5.out").read_text())
    assert hf.status is not None and hf.status.revision == 1  # it answers status ...
    assert (
        not hf.healthy and hf.health_error is not None and "timed out" in hf.health_error
    )  # ... no quorum read


def test_a_learner_through_the_gateway_is_healthy_without_a_member_list(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.inventory import load_inventory

    host = load_inventory(LAB_INVENTORY).host("node1")
    hf = host_facts_from_output(host, (GATEWAY / "learner-3.5.out").read_text())
    assert hf.status is not None and hf.status.is_learner and hf.healthy and hf.member_ids is None


def test_a_34_servers_gateway_is_read_again_through_etcdctl(repo) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from etcdops.facts.sections import GatewayUnfit
    from etcdops.inventory import load_inventory

    host = load_inventory(LAB_INVENTORY).host("node1")
    with pytest.raises(
        GatewayUnfit
    ):  # 3.4 ignores "linearizable": its member list proves no quorum
        host_facts_from_output(host, (GATEWAY / "voter-3.4.out").read_text())


def test_gather_reads_a_34_server_again_through_etcdctl(repo, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The second read of a host whose gateway answered as 3.4 runs no curl, and its facts are
    etcdctl's (captured output; the pool's transport is a stand-in: this is the parser's path)."""
    from etcdops.facts import versions as installed
    from etcdops.facts.gather import gather
    from etcdops.inventory import load_inventory
    from etcdops.transport import Result
    from etcdops.transport.pool import Pool

    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path))
    inventory = load_inventory(LAB_INVENTORY)
    status = (CAPTURED / "endpoint-status-3.5.json").read_text()
    members = (CAPTURED / "member-list-3.5.json").read_text()
    etcdctl_out = f"@@status\n{status}\n@@rc 0\n@@stderr\n@@members\n{members}\n@@rc 0\n@@stderr\n"
    scripts: list[str] = []

    class Captured:
        name = "captured"

        def run(self, command: str, timeout: float, env: object = None) -> Result:
            scripts.append(command)
            if "curl" in command:
                return Result(0, (GATEWAY / "voter-3.4.out").read_text(), "")
            return Result(0, etcdctl_out, "")

    pool = Pool(inventory)
    monkeypatch.setattr(pool, "_make", lambda name: Captured())
    monkeypatch.setattr(
        installed, "linearizable_member_list", lambda host, known: "a stamp"
    )  # 3.5+ installed
    facts = gather(inventory, pool, hosts=[inventory.host("node1")], versions=False)
    assert "curl" in scripts[0] and "curl" not in scripts[1]
    assert facts.hosts["node1"].healthy and facts.hosts["node1"].status is not None


def test_a_client_url_never_reaches_curls_write_out_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The real curl, given a client URL holding a -w directive (`%{stderr}` moves what follows
    to stderr; `%output{FILE}` writes a file with curl 8.3+): the marks stay on stdout, whole."""
    import subprocess

    from etcdops.facts import gateway
    from etcdops.inventory.model import EtcdConfig

    hostile = f"http://127.0.66.1:9/x%{{stderr}}%output{{{tmp_path}/written}}"
    etcd = EtcdConfig(
        "n", "http://127.0.66.1:2380", hostile, "/d", None, "/e", "/b", ":", ":", ":", ":"
    )
    command = gateway.command(etcd, [hostile], ("status",))
    proc = subprocess.run(["sh", "-c", command.text], capture_output=True, text=True, timeout=30)
    answers = gateway.parse(proc.stdout, gateway.requests_of([hostile], ("status",)))
    assert (
        answers[("status", hostile)].code == 0 and answers[("status", hostile)].error
    )  # no answer, and why
    assert "@@" not in proc.stderr and not (tmp_path / "written").exists()


def test_compaction_counters_from_real_metrics() -> None:
    """Real answers around a compaction (the metrics request cut down on the host by the step's own
    command): etcd 3.5 (the lab, the status of node2 then every member's counters) and 3.4 (one
    member): each member's count of finished compactions grows by one, and on 3.5 every member
    deleted the same number of old revisions."""
    from etcdops.facts import gateway

    urls = [f"http://127.0.1.{n}:2379" for n in (1, 2, 3)]
    requests = [("status", urls[1])] + [("metrics", u) for u in urls]
    counts = {}
    for when in ("before", "after"):
        answers = gateway.parse((GATEWAY / f"compaction-{when}-3.5.out").read_text(), requests)
        assert gateway.status_of(answers[("status", urls[1])]) is not None
        counts[when] = [gateway.compactions(answers[("metrics", u)]) for u in urls]
    deleted = {a.keys - b.keys for a, b in zip(counts["after"], counts["before"], strict=True)}  # type: ignore[union-attr]
    assert deleted == {534} and all(
        a.finished == b.finished + 1  # type: ignore[union-attr]
        for a, b in zip(counts["after"], counts["before"], strict=True)
    )
    one = [("status", "http://127.0.9.1:2379"), ("metrics", "http://127.0.9.1:2379")]
    before, after = (
        gateway.compactions(
            gateway.parse((GATEWAY / f"compaction-{w}-3.4.out").read_text(), one)[
                ("metrics", "http://127.0.9.1:2379")
            ]
        )
        for w in ("before", "after")
    )
    assert before == gateway.Compactions(0, 0) and after == gateway.Compactions(1, 89)


def test_metrics_without_the_counters_tell_nothing() -> None:
    from etcdops.facts import gateway

    assert gateway.compactions(gateway.Answer(200, "etcd_server_has_leader 1")) is None
    assert (
        gateway.compactions(gateway.Answer(404, "")) is None and gateway.compactions(None) is None
    )
    big = gateway.Answer(200, f"{gateway.KEYS} 1.2e+06\n{gateway.FINISHED} 7")
    assert gateway.compactions(big) == gateway.Compactions(7, 1_200_000)


def test_the_leader_from_every_members_status_in_one_read() -> None:
    """Real answers of a 7-member lab (node1 leads): the leader's host; None as soon as a member
    did not answer, or the member most name does not say so itself."""
    from etcdops.facts import gateway
    from etcdops.facts.leader import leader_of

    hosts = [(f"node{n}", f"http://127.0.1.{n}:2379") for n in range(1, 8)]
    requests = gateway.requests_of([u for _, u in hosts], ("status",))
    text = (GATEWAY / "statuses-7-members-3.5.out").read_text()
    assert leader_of(gateway.parse(text, requests), hosts, "node4") == ("node1", "node4")
    lines = text.splitlines()
    silent = "\n".join(
        lines[:9] + ["@@gateway 000 status 3", "@@error Connection refused"] + lines[12:]
    )
    assert leader_of(gateway.parse(silent, requests), hosts, "node4") is None
    deposed = text.replace(
        '"dbSize":"106496", "leader":"5525717750587107648"', '"dbSize":"106496", "leader":"0"', 1
    )
    assert deposed != text and leader_of(gateway.parse(deposed, requests), hosts, "node4") is None
    # node2's URL reaches node1's etcd (a client URL naming the asking host): it cannot tell who is
    # who
    shared = [(n, "http://127.0.1.1:2379" if n == "node2" else u) for n, u in hosts]
    assert leader_of(gateway.parse(text, requests), hosts[:1] + shared[1:2], "node1") is None
