"""Issue 30's first day and everyday findings, below the CLI: a missing etcdctl named with the
variable to set, why a cluster is not healthy in words, which known_hosts an inventory uses (and
kubespray's /dev/null), members that left not counted among the members, a state directory that
does not follow the current directory, a bad defrag rule blamed on the param, runbooks described
without their templates."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from etcdops import paths
from etcdops.errors import CommandFailed, ParamError
from etcdops.facts.gather import assemble
from etcdops.facts.model import HostFacts
from etcdops.facts.sections import host_facts_from_output
from etcdops.inventory import sshconfig
from etcdops.params import parse_params
from etcdops.plan import Plan
from etcdops.runbook import load_runbook
from etcdops.runbook.describe import readable, runbook_dict
from etcdops.steps.wait import read_through, summary
from tests.helpers import REPO, lab_facts, lab_inventory, plan_for

BASH_127 = "bash: line 7: /usr/local/bin/etcdctl: No such file or directory"
KUBESPRAY_CFG = """\
[ssh_connection]
pipelining=True
ssh_args = -o ControlMaster=auto -o ControlPersist=30m -o ConnectionAttempts=100 \
-o UserKnownHostsFile=/dev/null
[defaults]
host_key_checking=False
inventory_ignore_extensions = ~, .orig, .bak, .ini, .cfg, .retry, .pyc, .pyo, .creds
"""


# ----- a wrong bin_dir ------------------------------------------------------------------------
def test_a_missing_etcdctl_is_named_with_the_variable_to_set_not_a_down_member() -> None:
    inv = lab_inventory()
    output = f"@@status\n\n@@rc 127\n@@stderr\n{BASH_127}\n"
    hf = host_facts_from_output(inv.host("node1"), output)
    assert hf.status is None and hf.answers  # etcd listens: not DOWN
    assert "etcdctl is not at /usr/local/bin/etcdctl" in (hf.error or "")
    assert "etcd_bin_dir (with kubespray: bin_dir)" in (hf.error or "")


def test_a_command_that_finds_no_etcdutl_says_which_variable_points_there() -> None:
    err = CommandFailed(
        "node1", "/opt/bin/etcdutl snapshot restore x", 127, "sh: 1: /opt/bin/etcdutl: not found"
    )
    assert "etcdutl is not at /opt/bin/etcdutl" in str(err) and "etcd_bin_dir" in str(err)
    assert "etcd_bin_dir" not in str(CommandFailed("n", "false", 1, "No such file or directory"))


# ----- why not healthy, and nothing read ------------------------------------------------------
def test_problems_say_why_in_words_hosts_with_one_cause_on_one_line() -> None:
    inv = lab_inventory()
    facts = lab_facts(inv)
    assert facts.healthy and facts.problems() == [] and facts.read_any
    lost = "node3: cannot connect: SSH to root@127.0.1.3:2222: [Errno 111] Connection refused"
    hosts = {**facts.hosts, "node3": HostFacts("node3", False, error=lost)}
    broken = assemble(inv, hosts, list(facts.members), 99, [])
    assert broken.problems() == [
        "node3: SSH failed, its etcd was not read: cannot connect: SSH to root@127.0.1.3:2222: "
        "[Errno 111] Connection refused"
    ]
    nothing = {h: HostFacts(h, True, error="not read: etcdctl is not at X") for h in hosts}
    none = assemble(inv, nothing, [], None, [])
    assert not none.read_any
    assert none.problems() == ["node1, node2, node3: not read: etcdctl is not at X"]


# ----- known_hosts ----------------------------------------------------------------------------
def test_kubespray_ansible_cfg_names_no_known_hosts_and_etcdops_says_where_it_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("ANSIBLE_CONFIG", "ANSIBLE_SSH_ARGS", "ANSIBLE_HOST_KEY_CHECKING"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "ansible.cfg").write_text(KUBESPRAY_CFG)
    found = sshconfig.resolve(None, [("ansible_ssh_common_args", "")], cwd=tmp_path)
    assert found.path == str(Path("~/.ssh/known_hosts").expanduser())
    assert "UserKnownHostsFile=/dev/null and host_key_checking=False" in found.ignored
    assert "etcdops always does" in found.ignored
    mine = str(tmp_path / "kh")
    args = f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={mine}"
    assert sshconfig.resolve(None, [("ansible_ssh_common_args", args)], cwd=tmp_path).path == mine
    extra = sshconfig.resolve(
        None,
        [
            ("ansible_ssh_common_args", ""),
            ("ansible_ssh_extra_args", f"-oUserKnownHostsFile={mine}"),
        ],
        cwd=tmp_path,
    )
    assert extra.path == mine and extra.source == "UserKnownHostsFile in ansible_ssh_extra_args"
    assert sshconfig.resolve("/etc/kh", [("ansible_ssh_common_args", args)]).path == "/etc/kh"
    (tmp_path / "ansible.cfg").write_text(KUBESPRAY_CFG.replace("/dev/null", mine))
    from_cfg = sshconfig.resolve(None, [], cwd=tmp_path)
    assert from_cfg.path == mine and "ansible.cfg" in from_cfg.source


# ----- members that left ----------------------------------------------------------------------
def test_a_host_whose_member_was_removed_is_not_counted_among_the_members() -> None:
    inv = lab_inventory()
    facts = lab_facts(inv)
    left = HostFacts("node3", True, None, False, error="nothing listens: etcd is not running")
    members = [m for m in facts.members if m.name != "node3"]
    hosts = {h: replace(f, through="node1") for h, f in facts.hosts.items() if h != "node3"}
    after = assemble(inv, {**hosts, "node3": left}, members, 99, [])
    assert read_through(after) == (
        " (etcd of 2 of 2 members read through node1; node3: not a member)"
    )
    assert summary(after) == "2/2 healthy, leader node1; node3: not a member"


# ----- the state directory --------------------------------------------------------------------
def test_the_state_directory_does_not_follow_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETCDOPS_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    here = paths.runs_dir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert paths.runs_dir() == here == tmp_path / "state" / "etcdops" / "runs"
    assert paths.snapshots_dir("prod") == tmp_path / "state" / "etcdops" / "snapshots" / "prod"
    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path / "proj"))
    assert paths.runs_dir() == tmp_path / "proj" / ".etcdops" / "runs"
    assert paths.snapshots_dir("prod") == tmp_path / "proj" / "snapshots" / "prod"


def test_snapshot_and_restore_default_to_the_state_directorys_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = lab_inventory()
    monkeypatch.chdir(tmp_path)
    plan = plan_for(inv, "restore", ["snapshot=latest"])
    found = next(c for c in plan.checks if c.message.startswith("a snapshot was found"))
    assert str(paths.snapshots_dir(inv.name)) in found.said()


# ----- a bad param value ----------------------------------------------------------------------
def test_a_bad_defrag_rule_is_blamed_on_the_param_with_its_allowed_values() -> None:
    inv = lab_inventory()
    rb = load_runbook(REPO / "runbooks" / "compact-defrag.yml")
    with pytest.raises(ParamError) as exc:
        parse_params(rb, {"rule": "sometimes"}, inv)
    text = str(exc.value)
    assert text.startswith("runbook compact-defrag: param rule: 'sometimes' is not a defrag rule")
    assert "one of default, always, never, or an expression over db_size" in text
    assert parse_params(rb, {"rule": "reclaimable > 10 * MB"}, inv)["rule"]


# ----- runbooks as data -----------------------------------------------------------------------
def test_runbooks_are_described_without_their_templates() -> None:
    assert readable("Install etcd on {{ params.host }} (x)") == "Install etcd on <host> (x)"
    assert (
        readable("every member is healthy{{ '' if facts.healthy else ' (not: ' ~ x ~ ')' }}")
        == "every member is healthy"
    )
    data = runbook_dict(load_runbook(REPO / "runbooks" / "scale-out.yml"))
    assert [p["name"] for p in data["params"]][:2] == ["host", "wipe"]
    assert data["params"][0] == {
        "name": "host",
        "type": "host",
        "required": True,
        "default": None,
        "choices": [],
        "secret": False,
        "pattern": None,
        "min": None,
        "max": None,
        "description": "the inventory host to add (usually one of the spares group)",
    }
    assert all("{{" not in c["message"] for c in data["preflight"])
    assert all("{{" not in s["name"] for s in data["steps"])
    assert data["steps"][0]["kind"] == "playbook" and data["steps"][0]["when"] == "params.install"


# ----- the inventory change a membership run asks for ------------------------------------------
def test_a_membership_plan_says_which_hosts_the_etcd_group_must_gain_and_lose() -> None:
    inv = lab_inventory()
    out: Plan = plan_for(inv, "scale-out", ["host=node4"])
    assert out.membership_moves == (("node4",), ())
    replace_plan = plan_for(inv, "replace-member", ["old=node3", "new=node5"])
    assert replace_plan.membership_moves == (("node5",), ("node3",))
    assert plan_for(inv, "compact-defrag", []).membership_moves == ((), ())


def test_the_lab_inventory_keeps_itself_current() -> None:
    text = (REPO / "inventories" / "lab" / "group_vars" / "all" / "00-lab.yml").read_text()
    assert "etcdops_update_inventory: true" in text and "etcdops_retired_group: spares" in text
    assert os.path.exists(REPO / "inventories" / "lab" / "group_vars" / "all" / "00-lab.yml")
