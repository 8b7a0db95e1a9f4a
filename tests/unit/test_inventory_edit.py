"""The inventory change after a membership run (inventory/edit.py): the file that defines the
`etcd` group, the exact change as a diff, applied only where Ansible reads back exactly what was
asked (comments and order kept, a .bak beside it), else why not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etcdops.inventory import load_inventory
from etcdops.inventory.edit import apply, group_edit

VARS = (
    "etcd_peer_url: 'http://{{ ansible_host }}:2380'\n"
    "etcd_client_url: 'http://{{ ansible_host }}:2379'\n"
)

LAB_INI = """\
# The local lab: a comment that must stay
[etcd]
node1 ansible_host=127.0.9.1 ip=127.0.9.1
node2 ansible_host=127.0.9.2 ip=127.0.9.2
node3 ansible_host=127.0.9.3 ip=127.0.9.3

[spares]
node4 ansible_host=127.0.9.4 ip=127.0.9.4
node5 ansible_host=127.0.9.5 ip=127.0.9.5
"""

LAB_YAML = """\
# The local lab (plaintext): a comment that must stay
all:
  children:
    etcd:
      hosts:
        node1:
          ansible_host: 127.0.9.1
        node2:
          ansible_host: 127.0.9.2
        node3:
          ansible_host: 127.0.9.3   # keep me
    spares:
      hosts:
        node4:
          ansible_host: 127.0.9.4
        node5:
          ansible_host: 127.0.9.5
"""

KUBESPRAY = """\
# inventory/mycluster/inventory.ini, as kubespray's sample has it
[kube_control_plane]
node1 ansible_host=127.0.9.1 ip=127.0.9.1 etcd_member_name=etcd1
node2 ansible_host=127.0.9.2 ip=127.0.9.2 etcd_member_name=etcd2
node3 ansible_host=127.0.9.3 ip=127.0.9.3 etcd_member_name=etcd3

[etcd:children]
kube_control_plane

[kube_node]
node4 ansible_host=127.0.9.4 ip=127.0.9.4
"""


def inventory(tmp_path: Path, name: str, text: str, vars_: str = VARS) -> Path:
    folder = tmp_path / "inv"
    (folder / "group_vars").mkdir(parents=True)
    (folder / "group_vars" / "all.yml").write_text(vars_)
    (folder / name).write_text(text)
    return folder


def test_ini_scale_out_then_scale_in_keeps_comments_order_and_a_backup(tmp_path: Path) -> None:
    folder = inventory(tmp_path, "inventory.ini", LAB_INI)
    inv = load_inventory(folder, use_cache=False)
    edit = group_edit(inv, add=["node4"])
    assert edit.file == folder / "inventory.ini" and edit.applicable, edit.why_not
    assert "+node4\n" in edit.diff and edit.says == ("add node4 to the `etcd` group",)
    backup = apply(edit, "20261207T000000Z")
    assert backup.name == "inventory.ini.20261207T000000Z.bak"
    assert backup.read_text() == LAB_INI  # Ansible skips *.bak in an inventory directory
    text = (folder / "inventory.ini").read_text()
    assert text.startswith("# The local lab: a comment that must stay\n[etcd]\nnode1 ")
    assert "node3 ansible_host=127.0.9.3 ip=127.0.9.3\nnode4\n\n[spares]" in text
    after = load_inventory(folder, use_cache=False)
    assert after.groups["etcd"] == ("node1", "node2", "node3", "node4")
    assert after.hosts["node4"].address == "127.0.9.4"  # its variables stay on its spares line
    # and back: the bare line goes, the host stays a spare
    back = group_edit(after, remove=["node4"])
    assert back.applicable, back.why_not
    apply(back, "20261207T000001Z")
    assert (folder / "inventory.ini").read_text() == LAB_INI


def test_ini_a_member_whose_variables_are_on_its_line_is_parked_or_refused(tmp_path: Path) -> None:
    inv = load_inventory(inventory(tmp_path, "inventory.ini", LAB_INI), use_cache=False)
    refused = group_edit(inv, remove=["node3"])
    assert not refused.applicable and refused.file is not None
    assert "node3's variables are on its line in [etcd]" in refused.why_not
    parked = group_edit(inv, remove=["node3"], park_in="spares")
    assert parked.applicable, parked.why_not
    assert "-node3 ansible_host=127.0.9.3 ip=127.0.9.3\n" in parked.diff
    assert "node5 ansible_host=127.0.9.5 ip=127.0.9.5\n+node3 ansible_host" in parked.diff


def test_yaml_add_remove_and_park(tmp_path: Path) -> None:
    folder = inventory(tmp_path, "hosts.yml", LAB_YAML)
    inv = load_inventory(folder, use_cache=False)
    edit = group_edit(inv, add=["node4"], remove=["node3"], park_in="spares")
    assert edit.applicable, edit.why_not
    apply(edit, "20261207T000000Z")
    text = (folder / "hosts.yml").read_text()
    assert "# The local lab (plaintext): a comment that must stay" in text
    assert "ansible_host: 127.0.9.3   # keep me" in text  # moved with its comment
    after = load_inventory(folder, use_cache=False)
    assert after.groups["etcd"] == ("node1", "node2", "node4")
    assert set(after.groups["spares"]) == {"node3", "node4", "node5"}
    assert after.hosts["node3"].address == "127.0.9.3"


def test_yaml_last_member_leaves_an_empty_group_that_still_loads(tmp_path: Path) -> None:
    text = "all:\n  children:\n    etcd:\n      hosts:\n        a:\n    spares:\n      hosts: {}\n"
    vars_ = VARS.replace("{{ ansible_host }}", "127.0.9.9")
    folder = inventory(tmp_path, "hosts.yml", text, vars_)
    inv = load_inventory(folder, use_cache=False)
    edit = group_edit(inv, add=["b"]) if "b" in inv.hosts else None
    assert edit is None  # b is no host of this inventory: nothing to add
    add = group_edit(inv, remove=["a"])
    assert add.applicable, add.why_not
    assert "-        a:\n" in add.diff and "+      hosts: {}\n" in add.diff


def test_kubespray_children_group_gets_a_hosts_section_and_refuses_a_removal(
    tmp_path: Path,
) -> None:
    inv = load_inventory(inventory(tmp_path, "inventory.ini", KUBESPRAY, ""), use_cache=False)
    assert inv.groups["etcd"] == ("node1", "node2", "node3")
    edit = group_edit(inv, add=["node4"])
    assert edit.applicable, edit.why_not
    # kubespray would call it etcd1 by its position in the group: it keeps the name it joined with
    assert "+[etcd]\n+node4 etcd_member_name=node4\n+\n [etcd:children]\n" in edit.diff
    removal = group_edit(inv, remove=["node3"])
    assert not removal.applicable
    assert "through [etcd:children]" in removal.why_not


def test_nothing_to_do_and_the_sources_it_will_not_touch(tmp_path: Path) -> None:
    folder = inventory(tmp_path, "inventory.ini", LAB_INI)
    inv = load_inventory(folder, use_cache=False)
    assert not group_edit(inv, add=["node1"], remove=["node5"]).needed
    script = folder / "dynamic.sh"
    script.write_text("#!/bin/sh\necho '{}'\n")
    os.chmod(script, 0o755)
    edit = group_edit(inv, add=["node4"])
    assert not edit.applicable and "inventory script" in edit.why_not


@pytest.mark.parametrize("name", ["hosts.yml", "inventory.ini"])
def test_a_single_file_inventory(tmp_path: Path, name: str) -> None:
    text = LAB_INI if name.endswith(".ini") else LAB_YAML
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(VARS)
    (tmp_path / name).write_text(text)
    inv = load_inventory(tmp_path / name, use_cache=False)
    edit = group_edit(inv, add=["node5"])
    assert edit.file == tmp_path / name and edit.applicable, edit.why_not


def test_kubespray_scale_in_takes_the_added_line_out_again(tmp_path: Path) -> None:
    folder = inventory(tmp_path, "inventory.ini", KUBESPRAY, "")
    inv = load_inventory(folder, use_cache=False)
    apply(group_edit(inv, add=["node4"]), "20261207T000000Z")
    after = load_inventory(folder, use_cache=False)
    assert after.groups["etcd"] == ("node4", "node1", "node2", "node3")
    assert after.hosts["node4"].etcd is not None and after.hosts["node4"].etcd.name == "node4"
    back = group_edit(after, remove=["node4"])
    assert back.applicable, back.why_not
    assert "-node4 etcd_member_name=node4\n" in back.diff
    apply(back, "20261207T000001Z")
    final = load_inventory(folder, use_cache=False)
    assert final.groups["etcd"] == ("node1", "node2", "node3")
    assert final.hosts["node4"].address == "127.0.9.4"  # still a kube_node


def test_an_edit_is_not_written_over_a_file_changed_since(tmp_path: Path) -> None:
    from etcdops.errors import EtcdopsError

    folder = inventory(tmp_path, "inventory.ini", LAB_INI)
    edit = group_edit(load_inventory(folder, use_cache=False), add=["node4"])
    (folder / "inventory.ini").write_text(LAB_INI + "# edited by hand meanwhile\n")
    with pytest.raises(EtcdopsError, match="changed since the edit was made"):
        apply(edit, "20261207T000000Z")
    assert not list(folder.glob("*.bak"))
