"""Parity with Ansible itself: for a corpus of inventories (INI with ranges and children, YAML with
group_vars/host_vars directories, ansible_group_priority, a kubespray-shaped layout), etcdops
sees the
same hosts, the same groups and the same values of the variables it reads as `ansible-inventory
--list` and `ansible -m debug` report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etcdops.inventory import load_inventory
from tests.helpers import FIXTURES

CORPUS = FIXTURES / "inventories" / "parity"
BIN = Path(sys.executable).parent
READ = [
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "etcd_name",
    "etcd_member_name",
    "etcd_peer_url",
    "etcd_client_url",
    "etcd_data_dir",
    "etcd_env_file",
    "etcd_cacert",
    "etcd_quota_backend_bytes",
    "ip",
    "access_ip",
    "bin_dir",
]
ENV = {
    **os.environ,
    "ANSIBLE_HOST_KEY_CHECKING": "False",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_NOCOLOR": "1",
}


def ansible_inventory(path: Path) -> dict:
    out = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=True,
    ).stdout
    return json.loads(out)


def ansible_vars(path: Path) -> dict[str, dict]:
    """Each host's value of every variable in READ, rendered by Ansible (`-m debug`, run
    locally)."""
    expr = (
        "{{ {"
        + ", ".join(f"'{v}': ({v} if {v} is defined else '<undefined>')" for v in READ)
        + "} }}"
    )
    proc = subprocess.run(
        [
            str(BIN / "ansible"),
            "all",
            "-i",
            str(path),
            "-c",
            "local",
            "-m",
            "debug",
            "-o",
            "-a",
            f"msg={expr}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    found = {}
    for line in proc.stdout.splitlines():  # one line per host: `HOST | SUCCESS => {json}`
        host, sep, rest = line.partition(" | SUCCESS => ")
        if sep:
            found[host.strip()] = json.loads(rest)["msg"]
    assert found, proc.stdout + proc.stderr
    return found


def groups_of(listing: dict, group: str) -> set[str]:
    entry = listing.get(group, {})
    hosts = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        hosts |= groups_of(listing, child)
    return hosts


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()))
def test_etcdops_reads_the_inventory_as_ansible_does(name: str) -> None:
    path = CORPUS / name
    inv = load_inventory(path, use_cache=False)
    listing = ansible_inventory(path)
    assert set(inv.hosts) == groups_of(listing, "all")
    for group, hosts in inv.groups.items():
        assert set(hosts) == groups_of(listing, group), group
    rendered = ansible_vars(path)
    assert set(rendered) == set(inv.hosts)
    for host_name, host in inv.hosts.items():
        theirs = rendered[host_name]
        assert host.address == (
            theirs["ansible_host"] if theirs["ansible_host"] != "<undefined>" else host_name
        )
        if theirs["ansible_port"] != "<undefined>":
            assert host.port == int(theirs["ansible_port"])
        if theirs["ansible_user"] != "<undefined>":
            assert host.user == theirs["ansible_user"]
        etcd = host.etcd
        assert etcd is not None
        for ours, var in (
            (etcd.peer_url, "etcd_peer_url"),
            (etcd.client_url, "etcd_client_url"),
            (etcd.data_dir, "etcd_data_dir"),
            (etcd.env_file, "etcd_env_file"),
            (etcd.cacert, "etcd_cacert"),
        ):
            if theirs[var] != "<undefined>":
                assert ours == theirs[var], (host_name, var)
        if theirs["etcd_quota_backend_bytes"] != "<undefined>":
            assert etcd.quota_backend_bytes == int(theirs["etcd_quota_backend_bytes"])
        name_var = (
            theirs["etcd_name"]
            if theirs["etcd_name"] != "<undefined>"
            else theirs["etcd_member_name"]
        )
        if name_var != "<undefined>":
            assert etcd.name == name_var, host_name
        if host.profile == "kubespray":  # derived as kubespray derives them from the same variables
            address = theirs["access_ip"] if theirs["access_ip"] != "<undefined>" else theirs["ip"]
            assert (
                etcd.peer_url == f"https://{address}:2380"
                and etcd.client_url == f"https://{address}:2379"
            )
            assert etcd.bin_dir == theirs["bin_dir"]


def test_a_kubespray_variable_etcdops_does_not_need_never_breaks_loading() -> None:
    # group_vars/k8s_cluster uses ansible.utils.ipaddr (not installed) and a lookup: not rendered
    inv = load_inventory(CORPUS / "kubespray", use_cache=False)
    assert [h.etcd.name for h in inv.members if h.etcd] == ["etcd1", "etcd2", "etcd3"]
