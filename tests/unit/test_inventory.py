from __future__ import annotations

from pathlib import Path

import pytest

from etcdops.errors import InventoryError
from etcdops.inventory import load_inventory
from tests.helpers import LAB_INVENTORY

GOOD = """
all:
  vars:
    ansible_user: admin
  children:
    etcd:
      hosts:
        e1: {ansible_host: 10.0.0.1, etcd_peer_url: "https://10.0.0.1:2380", etcd_client_url: "https://10.0.0.1:2379"}
        e2: {ansible_host: 10.0.0.2, etcd_peer_url: "https://10.0.0.2:2380", etcd_client_url: "https://10.0.0.2:2379"}
"""


def write(tmp_path: Path, hosts: str, group_vars: dict[str, str] | None = None) -> Path:
    (tmp_path / "hosts.yml").write_text(hosts)
    for name, text in (group_vars or {}).items():
        (tmp_path / "group_vars").mkdir(exist_ok=True)
        (tmp_path / "group_vars" / f"{name}.yml").write_text(text)
    return tmp_path


def test_good_inventory_with_defaults_and_group_vars(tmp_path: Path) -> None:
    inv = load_inventory(
        write(tmp_path, GOOD, {"etcd": "etcd_data_dir: /data/etcd\netcd_cacert: /ca.pem\n"})
    )
    e1 = inv.host("e1")
    assert e1.user == "admin" and e1.port == 22 and e1.groups == ("etcd",)
    assert e1.etcd is not None and e1.etcd.data_dir == "/data/etcd" and e1.etcd.cacert == "/ca.pem"
    assert e1.etcd.stop_cmd == "systemctl stop etcd" and e1.etcd.env_file == "/etc/etcd/etcd.env"
    assert inv.initial_cluster() == "e1=https://10.0.0.1:2380,e2=https://10.0.0.2:2380"


def test_lab_inventory_resolves_variables(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    node1 = inv.host("node1")
    assert node1.port == 2222 and node1.etcd is not None
    assert node1.etcd.data_dir == str(
        repo / "tests" / "fixtures" / ".lab" / "hosts" / "node1" / "var" / "lib" / "etcd"
    )
    assert node1.etcd.client_url == "http://127.0.1.1:2379"


def test_example_prod_inventory_loads(repo: Path) -> None:
    inv = load_inventory(repo / "inventories" / "example-prod")
    assert len(inv.members) == 3 and all(
        h.etcd and h.etcd.client_url.startswith("https") for h in inv.members
    )
    first = inv.members[0]
    assert first.etcd and first.etcd.env["ETCD_CERT_FILE"] == f"/etc/etcd/pki/{first.name}.crt"
    assert first.etcd.env["ETCD_CLIENT_CERT_AUTH"] == "true"


@pytest.mark.parametrize(
    ("hosts", "group_vars", "file_part", "key_part"),
    [
        ("all: [unclosed", None, "hosts.yml:1", "(yaml)"),
        (
            GOOD.replace(
                'etcd_peer_url: "https://10.0.0.2:2380"', 'etcd_peer_url: "https://10.0.0.1:2380"'
            ),
            None,
            "hosts.yml",
            "e2.etcd_peer_url",
        ),
        (
            GOOD.replace(
                "e2: {ansible_host: 10.0.0.2,", "e2: {etcd_name: e1, ansible_host: 10.0.0.2,"
            ),
            None,
            "hosts.yml",
            "e2.etcd_name",
        ),
        (
            GOOD.replace('etcd_client_url: "https://10.0.0.2:2379"', "x: 1"),
            None,
            "hosts.yml",
            "e2.etcd_client_url",
        ),
        (
            GOOD.replace("https://10.0.0.2:2379", "https//10.0.0.2"),
            None,
            "hosts.yml",
            "e2.etcd_client_url",
        ),
        (GOOD.replace("etcd:", "etcd_hosts:"), None, "", "etcd"),
        (GOOD, {"all": "etcd_env: [ETCD_CERT_FILE]\n"}, "group_vars/all.yml", "e1.etcd_env"),
        (
            GOOD,
            {"all": "etcd_env: {CERT_FILE: /x}\n"},
            "group_vars/all.yml",
            "e1.etcd_env.CERT_FILE",
        ),
        (
            GOOD,
            {"all": 'etcd_env: {ETCD_CERT_FILE: "/x\\nETCD_NAME=evil"}\n'},
            "group_vars/all.yml",
            "e1.etcd_env.ETCD_CERT_FILE",
        ),
    ],
)
def test_bad_inventory_names_file_and_key(
    tmp_path: Path, hosts: str, group_vars: dict[str, str] | None, file_part: str, key_part: str
) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(tmp_path, hosts, group_vars))
    assert file_part in info.value.file and key_part in info.value.key
    assert "\n" not in str(info.value)


def test_what_ansible_ignores_is_ignored_and_warned_about(tmp_path: Path) -> None:
    # group_vars of a group the inventory does not define (kubespray ships
    # group_vars/k8s_cluster/ for inventories that may not have it) are ignored, as Ansible
    # does; an unknown key is a warning
    inv = load_inventory(
        write(tmp_path, GOOD.replace("  vars:", "  varz:"), {"nosuchgroup": "a: 1\n"})
    )
    assert len(inv.members) == 2 and inv.host("e1").user != "admin"
    assert any("varz" in w for w in inv.warnings), inv.warnings
