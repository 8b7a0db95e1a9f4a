"""Plan building: fixture inventory + facts + a dict probe in, exact commands out."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from etcdops.errors import ParamError, RenderError, RunbookError
from etcdops.facts.model import Member
from etcdops.runbook import load_runbook
from tests.helpers import DictProbe, commands, lab_facts, lab_inventory, plan_for


@pytest.fixture
def inv():  # type: ignore[no-untyped-def]
    return lab_inventory()


def test_builtin_runbooks_load(repo: Path) -> None:
    paths = sorted((repo / "runbooks").glob("*.yml"))
    assert len(paths) >= 8  # the glob found the runbooks (an empty loop would pass)
    for path in paths:
        assert load_runbook(path).steps


def test_restore_plan_commands(inv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snap = tmp_path / "snap.db"
    snap.write_bytes(b"x")
    env = (
        "ETCD_NAME=node1\nETCD_INITIAL_CLUSTER_TOKEN=old\n"
        "ETCD_INITIAL_CLUSTER_STATE=existing\nKEEP=me\n"
    )
    probe = DictProbe({("node1", inv.host("node1").etcd.env_file): env})
    plan = plan_for(inv, "restore", [f"snapshot={snap}", "token=t1"], probe)
    restore = shlex.split(commands(plan.step("Restore into a fresh directory"))["node2"][-1])
    ic = "node1=http://127.0.1.1:2380,node2=http://127.0.1.2:2380,node3=http://127.0.1.3:2380"
    assert restore[1:3] == ["snapshot", "restore"] and restore[0].endswith("/etcdutl")
    assert ["--name", "node2"] == restore[restore.index("--name") : restore.index("--name") + 2]
    assert restore[restore.index("--initial-cluster") + 1] == ic
    assert restore[restore.index("--initial-cluster-token") + 1] == "t1"
    assert restore[restore.index("--data-dir") + 1].endswith(
        "/var/lib/etcd.restore-20260101T000000Z"
    )
    swap = " ".join(commands(plan.step("Move the old data dir aside"))["node1"])
    assert "pre-restore-20260101T000000Z" in swap and "rm " not in swap
    diff = plan.step("Rewrite etcd.env for a fenced start").actions[0].action.diff
    assert "-ETCD_INITIAL_CLUSTER_TOKEN=old" in diff and "+ETCD_INITIAL_CLUSTER_TOKEN=t1" in diff
    assert "+ETCD_INITIAL_CLUSTER_STATE=new" in diff and "KEEP=me" not in [
        line[1:] for line in diff.splitlines() if line[:1] in "+-"
    ]
    # fenced: listening for clients on another port, while advertising the real client URLs (no
    # client learns a fenced URL from the member list); then back as they were, and state
    # existing (the second write's diff is against the file as the first leaves it)
    assert "+ETCD_LISTEN_CLIENT_URLS=http://127.0.1.1:12379" in diff
    assert "12379" not in "".join(line for line in diff.splitlines() if "ADVERTISE_CLIENT" in line)
    final = plan.step("Rewrite etcd.env for clients").actions[0].action
    assert "-ETCD_LISTEN_CLIENT_URLS=http://127.0.1.1:12379" in final.diff
    assert "12379" not in "".join(
        line for line in final.diff.splitlines() if "ADVERTISE_CLIENT" in line
    )
    assert "+ETCD_INITIAL_CLUSTER_STATE=existing" in final.diff and not final.backup
    failed = " ".join(
        c.said() for c in plan.failed_checks
    )  # b"x" is no snapshot: refused before any step
    # (no etcdutl here: that is said, and `etcdutl snapshot status` is not made without one)
    assert "has no sha256 trailer" in failed and "no etcdutl on the control node" in failed


def test_restore_on_etcd_34_restores_with_etcdctl(inv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snap = tmp_path / "snap.db"
    snap.write_bytes(b"x")
    # 3.4's restore has no --bump-revision: 0 given (auto is refused, see the lab test)
    plan = plan_for(
        inv,
        "restore",
        [f"snapshot={snap}", "bump_revision=0"],
        facts=lab_facts(inv, version="3.4.23"),
    )
    restore = shlex.split(commands(plan.step("Restore into a fresh directory"))["node1"][-1])
    assert restore[0].endswith("/etcdctl") and restore[1:3] == ["snapshot", "restore"]
    assert [
        s.name for s in plan.steps if s.kind == "etcd_snapshot_verify"
    ] == []  # copies are hashed end to end


def test_hostile_snapshot_name_is_one_word_in_every_command(inv, tmp_path: Path) -> None:  # type: ignore
    evil = "$(touch /tmp/x)"
    with pytest.raises(ParamError):  # the token param has a pattern
        plan_for(inv, "restore", [f"token={evil}"])
    snap = tmp_path / "x$(touch${IFS}PWNED).db"
    snap.write_bytes(b"x")
    plan = plan_for(inv, "restore", [f"snapshot={snap}"])
    assert plan.step("Copy the snapshot").actions[0].action.src == str(snap)
    for step in plan.steps:
        for texts in commands(step).values():
            for text in texts:
                words = shlex.split(text)
                assert all("$(" not in w or "x$(touch${IFS}PWNED)" in w for w in words), (
                    step.name,
                    text,
                )
    # the effect of running these commands is checked for real in tests/integration/test_hostile.py


def test_leader_target_and_unknown_param(repo: Path, inv) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(inv, "snapshot", [], facts=lab_facts(inv, leader="node2"))
    save = plan.step("Save the snapshot")
    assert save.hosts == ("node2",) and save.leader is None
    with pytest.raises(ParamError, match="unknown param 'nope'"):
        plan_for(inv, "snapshot", ["nope=1"])


def test_preflight_refuses_unreachable_member_for_restore(repo: Path, inv, tmp_path: Path) -> None:  # type: ignore
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    plan = plan_for(inv, "restore", [f"snapshot={snap}"], facts=lab_facts(inv, down=("node3",)))
    failed = [c.said() for c in plan.failed_checks]
    assert any("cannot be reached over SSH: node3" in m for m in failed), failed


BAD_RUNBOOKS = [
    ("name: x\nsteps: []\n", 1, "non-empty"),
    ("name: x\nsteps:\n  - name: a\n    command: echo\n    bogus: 1\n", 3, "unknown key 'bogus'"),
    ("name: x\nsteps:\n  - name: a\n    command: echo {{ x\n", 3, "template syntax"),
    (
        "name: x\nsteps:\n  - name: a\n    target: everyone\n    command: echo\n",
        3,
        "unknown target",
    ),
    ("name: x\nsteps:\n  - name: a\n    command: echo\n    wait: x\n", 3, "exactly one action"),
    ("name: x\nparams:\n  p: {type: float}\nsteps:\n  - command: echo\n", 3, "unknown type"),
    (
        "name: x\nsteps:\n  - command: a\n  - command: b\n  - name: step 1\n    command: c\n",
        None,
        "duplicate",
    ),
    ("name: x\nname: y\nsteps: [1]\n", 1, "duplicate key"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_RUNBOOKS)
def test_bad_runbook_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises((RunbookError, RenderError)) as info:
        load_runbook(path)
    assert (
        (line is None or info.value.line == line)
        and message in str(info.value)
        and str(path) in str(info.value)
    )


def test_restore_without_any_snapshot_is_a_clear_refusal(repo: Path, inv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(inv, "restore", [f"dir={tmp_path}"])
    failed = [c for c in plan.failed_checks if c.message.startswith("a snapshot was found")]
    # a failed pre-flight is a refusal (exit 3), and it says what it found
    assert failed and failed[0].exit_code == 3
    assert failed[0].said() == f"no snapshot with its metadata in {tmp_path}"


def test_restore_stops_the_leader_last_and_every_member_without_a_leader(
    repo: Path,
    inv,  # type: ignore
    tmp_path: Path,
) -> None:
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    plan = plan_for(inv, "restore", [f"snapshot={snap}"], facts=lab_facts(inv, leader="node2"))
    stop = plan.step("Stop etcd on every member")
    assert (
        stop.hosts == ("node1", "node2", "node3") and stop.last == "node2" and stop.leader is None
    )
    plan = plan_for(inv, "restore", [f"snapshot={snap}"], facts=lab_facts(inv, leader=None))
    stop = plan.step("Stop etcd on every member")
    assert stop.hosts == ("node1", "node2", "node3") and stop.last is None  # no quorum: all at once


def test_peers_are_compares_peer_urls_of_the_live_members(inv) -> None:  # type: ignore[no-untyped-def]
    facts = lab_facts(inv)
    three = inv.initial_cluster()
    assert facts.peers_are(three)
    assert facts.peers_are(three.replace("node2=", "=")) and facts.peers_are(
        ",".join(reversed(three.split(",")))
    )
    assert not facts.peers_are(three + ",node4=http://127.0.1.4:2380")  # the add has not happened
    assert not facts.peers_are(",".join(three.split(",")[:2]))


def test_scale_out_writes_the_env_only_if_the_members_are_as_planned(repo: Path, inv) -> None:  # type: ignore
    plan = plan_for(inv, "scale-out", ["host=node4", "install=false"])
    write = next(s for s in plan.steps if s.kind == "template")
    assert write.requires == ("facts.peers_are(vars.initial_cluster)",)
    assert plan.variables["vars"]["initial_cluster"].endswith(",node4=http://127.0.1.4:2380")


def test_a_cluster_that_fails_pre_flight_is_refused_not_a_runbook_error(repo: Path, inv) -> None:  # type: ignore
    # every member down: no host to compact on; the answer is the refusal, not "'' is not a host"
    plan = plan_for(
        inv,
        "compact-defrag",
        [],
        facts=lab_facts(inv, leader=None, down=("node1", "node2", "node3")),
    )
    assert plan.failed_checks and "every member is healthy" in plan.failed_checks[0].message
    first = plan.steps[0]
    assert first.skipped and "the pre-flight refused" in first.skipped
    assert "{{" not in first.name and all(
        "{{" not in s.name for s in plan.steps
    )  # names are rendered


def test_a_member_outside_the_etcd_group_refuses_compact_defrag_and_restore(
    repo: Path,
    inv,  # type: ignore
    tmp_path: Path,
) -> None:
    node4 = inv.host("node4").etcd
    facts = dataclasses.replace(
        lab_facts(inv),
        members=(
            *lab_facts(inv).members,
            Member(4, "node4", (node4.peer_url,), (node4.client_url,), False),
        ),
    )
    # a scaled-out member the operator has not added to the group yet
    facts.member_hosts[4] = "node4"
    plan = plan_for(inv, "compact-defrag", [], facts=facts)
    failed = [c for c in plan.failed_checks if "etcd group" in c.message]
    assert failed and "not in it: node4" in failed[0].said() and failed[0].exit_code == 3
    snap = tmp_path / "s.db"
    snap.write_bytes(b"x")
    plan = plan_for(inv, "restore", [f"snapshot={snap}"], facts=facts)
    assert any("not in it: node4" in c.said() for c in plan.failed_checks)
    assert not [
        c for c in plan_for(inv, "compact-defrag", []).failed_checks if "etcd group" in c.message
    ]


def test_a_joining_host_gets_the_inventorys_etcd_env_and_etcdops_settings_win(
    repo: Path, inv
) -> None:  # type: ignore
    node4 = inv.host("node4")
    etcd = dataclasses.replace(
        node4.etcd, env={"ETCD_CERT_FILE": "/pki/node4.crt", "ETCD_NAME": "not-this"}
    )
    hosts = {**inv.hosts, "node4": dataclasses.replace(node4, etcd=etcd)}
    plan = plan_for(
        dataclasses.replace(inv, hosts=hosts), "scale-out", ["host=node4", "install=false"]
    )
    env = next(s for s in plan.steps if s.kind == "template").actions[0].action.content.splitlines()
    assert (
        "ETCD_CERT_FILE=/pki/node4.crt" in env
        and "ETCD_NAME=node4" in env
        and "ETCD_NAME=not-this" not in env
    )


def test_libyaml_and_pure_python_read_every_runbook_alike(repo: Path) -> None:
    import yaml

    from etcdops.runbook.loader import _FastLoader, _Loader

    def lines(data, path="") -> dict[str, int | None]:  # type: ignore[no-untyped-def]
        found = {path: getattr(data, "line", None)} if isinstance(data, dict) else {}
        items = (
            data.items()
            if isinstance(data, dict)
            else enumerate(data)
            if isinstance(data, list)
            else ()
        )
        for key, value in items:
            found.update(lines(value, f"{path}/{key}"))
        return found

    assert _FastLoader.__mro__[1] is not yaml.SafeLoader or not yaml.__with_libyaml__
    for file in sorted((repo / "runbooks").glob("*.yml")):
        fast, pure = (
            yaml.load(file.read_text(), Loader=_FastLoader),
            yaml.load(file.read_text(), Loader=_Loader),
        )
        assert fast == pure and lines(fast) == lines(pure), file


def test_a_kubespray_joining_host_gets_every_line_kubesprays_template_writes() -> None:
    from tests.helpers import FIXTURES

    inv = __import__("etcdops.inventory", fromlist=["load_inventory"]).load_inventory(
        FIXTURES / "inventories" / "parity" / "kubespray", use_cache=False
    )
    facts = lab_facts(inv)
    plan = plan_for(inv, "scale-out", ["host=node4", "install=false"], facts=facts)
    env = dict(
        line.split("=", 1)
        for line in plan.step("Write etcd.env").actions[0].action.content.splitlines()
        if "=" in line and not line.startswith("#")
    )
    # the lines of kubespray's roles/etcd/templates/etcd.env.j2, with kubespray's defaults
    expected = {
        "ETCD_DATA_DIR": "/var/lib/etcd",
        "ETCD_ADVERTISE_CLIENT_URLS": "https://10.3.0.4:2379",
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://10.3.0.4:2380",
        "ETCD_INITIAL_CLUSTER_STATE": "existing",
        "ETCD_METRICS": "basic",
        "ETCD_LISTEN_CLIENT_URLS": "https://10.3.0.4:2379,https://127.0.0.1:2379",
        "ETCD_ELECTION_TIMEOUT": "5000",
        "ETCD_HEARTBEAT_INTERVAL": "250",
        "ETCD_INITIAL_CLUSTER_TOKEN": "k8s_etcd",
        "ETCD_LISTEN_PEER_URLS": "https://10.3.0.4:2380",
        "ETCD_NAME": "node4",
        "ETCD_PROXY": "off",
        "ETCD_AUTO_COMPACTION_RETENTION": "8",
        "ETCD_SNAPSHOT_COUNT": "100000",
        "ETCD_QUOTA_BACKEND_BYTES": "2147483648",
        "ETCD_MAX_REQUEST_BYTES": "1572864",
        "ETCD_LOG_LEVEL": "info",
        "ETCD_MAX_SNAPSHOTS": "5",
        "ETCD_MAX_WALS": "5",
        "ETCD_TRUSTED_CA_FILE": "/etc/ssl/etcd/ssl/ca.pem",
        "ETCD_CERT_FILE": "/etc/ssl/etcd/ssl/member-node4.pem",
        "ETCD_KEY_FILE": "/etc/ssl/etcd/ssl/member-node4-key.pem",
        "ETCD_CLIENT_CERT_AUTH": "true",
        "ETCD_PEER_TRUSTED_CA_FILE": "/etc/ssl/etcd/ssl/ca.pem",
        "ETCD_PEER_CERT_FILE": "/etc/ssl/etcd/ssl/member-node4.pem",
        "ETCD_PEER_KEY_FILE": "/etc/ssl/etcd/ssl/member-node4-key.pem",
        "ETCD_PEER_CLIENT_CERT_AUTH": "True",
        "ETCDCTL_ENDPOINTS": "https://127.0.0.1:2379",
        "ETCDCTL_CACERT": "/etc/ssl/etcd/ssl/ca.pem",
        "ETCDCTL_KEY": "/etc/ssl/etcd/ssl/admin-node4-key.pem",
        "ETCDCTL_CERT": "/etc/ssl/etcd/ssl/admin-node4.pem",
        "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK": "True",
        "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL": "5s",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert env["ETCD_INITIAL_CLUSTER"].endswith(",node4=https://10.3.0.4:2380")
    assert inv.host("node4").etcd.cacert == "/etc/ssl/etcd/ssl/ca.pem"


def test_a_corrupt_alarm_refuses_every_runbook_but_restore(repo: Path) -> None:
    from dataclasses import replace

    from etcdops.facts.model import Alarm

    inv = lab_inventory()
    facts = replace(lab_facts(inv), alarms=(Alarm(2, "CORRUPT"),))
    plan = plan_for(inv, "compact-defrag", [], facts=facts)
    refusal = plan.failed_checks[0]
    assert refusal.exit_code == 3 and "member(s) 2 found data that differs" in refusal.detail
    restore = plan_for(inv, "restore", [], facts=facts)
    assert not [c for c in restore.failed_checks if "CORRUPT" in c.detail]
    assert not [
        c for c in plan_for(inv, "compact-defrag", []).failed_checks if "CORRUPT" in c.detail
    ]
