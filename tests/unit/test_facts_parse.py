from __future__ import annotations

from etcdops.facts.gather import assemble, host_facts_from_output
from etcdops.facts.model import HostFacts
from etcdops.facts.parse import (
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
    parse_snapshot_status,
)
from tests.conftest import FIXTURES

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

    inv = load_inventory(repo / "inventories" / "lab")
    status = (CAPTURED / "endpoint-status-3.5.json").read_text()
    down_err = (CAPTURED / "endpoint-status-down.stderr").read_text().strip().splitlines()[-1]
    ok_output = "\n".join(["@@version", "etcd Version: 3.5.16", "@@rc 0",
                           "@@status", status.replace('[{"Endpoint":"http://127.0.1.1:2379"', '[{"Endpoint":"x"'),
                           "@@rc 0", "@@health",
                           '[{"endpoint":"http://127.0.1.1:2379","health":true}]', "@@rc 0",
                           "@@members", (CAPTURED / "member-list-3.5.json").read_text(), "@@rc 0"])
    down_output = f"@@version\netcd Version: 3.5.16\n@@rc 0\n@@status\n[]\n@@rc 1\n@@err {down_err}\n"
    hf1 = host_facts_from_output(inv.host("node1"), ok_output)
    hf3 = host_facts_from_output(inv.host("node3"), down_output)
    assert hf1.healthy and hf1.etcd_version == "3.5.16"
    assert not hf3.healthy and hf3.status is None and "context deadline exceeded" in (hf3.error or "")
    _, members = parse_member_list((CAPTURED / "member-list-3.5.json").read_text())
    facts = assemble(inv, {"node1": hf1, "node3": hf3,
                           "node2": HostFacts(host="node2", reachable=False, error="no route")}, members, None, [])
    assert not facts.healthy and facts.unreachable == ["node2"]
    assert facts.quorum == 2 and facts.tolerance == 1 and len(facts.voters) == 3


def test_alarm_numbers_become_names() -> None:
    from etcdops.facts.parse import parse_alarm_list

    text = (FIXTURES / "etcdctl" / "alarm-list-nospace.json").read_text()
    assert [a.alarm for a in parse_alarm_list(text)] == ["NOSPACE"]


def test_an_alarm_alone_does_not_make_a_member_unhealthy(repo) -> None:  # type: ignore[no-untyped-def]
    from etcdops.facts.gather import host_facts_from_output
    from etcdops.inventory import load_inventory

    host = load_inventory(repo / "inventories" / "lab").host("node1")
    status = (FIXTURES / "etcdctl" / "endpoint-status-3.5.json").read_text()
    health = (FIXTURES / "etcdctl" / "endpoint-health-nospace.json").read_text().replace("127.0.8.1", "127.0.1.1")
    out = f"@@status\n{status}\n@@rc 0\n@@health\n{health}\n@@rc 1\n@@err Error: unhealthy cluster\n"
    assert host_facts_from_output(host, out).healthy
