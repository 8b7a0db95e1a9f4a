"""A kubespray user's first day, against a lab of its own (TLS, kubespray's certificate layout, on
127.OCTET.24.N): a checkout with kubespray's own ansible.cfg (host_key_checking=False,
UserKnownHostsFile=/dev/null, *.ini skipped in inventory directories) and inventory/mycluster as
kubespray's sample shapes it (inventory.ini with [etcd:children], group_vars/all/*.yml,
group_vars/k8s_cluster with Ansible filters), and a home with no known_hosts, as the README's
"From a kubespray inventory to a first status" walks it: the directory refused with the file to
name, unknown keys refused (exit 7) naming `hosts trust`, the keys reviewed and trusted, a first
status. Then what goes wrong on such a first day: a wrong bin_dir, a changed key, a known_hosts
named in ansible_ssh_common_args, a host whose SSH fails while its etcd is fine, and the
inventory change after a scale-out and a scale-in ([etcd:children] gets an [etcd] section)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import ETCDOPS, REPO, LabEnv, net, running_lab

pytestmark = pytest.mark.lab
NET = net(24)

# kubespray's own ansible.cfg (kubernetes-sigs/kubespray, ansible.cfg), as a checkout has it
ANSIBLE_CFG = """\
[ssh_connection]
pipelining=True
ssh_args = -o ControlMaster=auto -o ControlPersist=30m -o ConnectionAttempts=100 \
-o UserKnownHostsFile=/dev/null
#control_path = ~/.ssh/ansible-%%r@%%h:%%p
[defaults]
host_key_checking=False
gathering = smart
fact_caching = jsonfile
fact_caching_connection = /tmp
stdout_callback = skippy
library = ./library
callback_whitelist = profile_tasks
roles_path = roles:$VIRTUAL_ENV/usr/local/share/kubespray/roles:\
$VIRTUAL_ENV/usr/local/share/ansible/roles:/usr/share/kubespray/roles
deprecation_warnings=False
inventory_ignore_extensions = ~, .orig, .bak, .ini, .cfg, .retry, .pyc, .pyo, .creds
"""

INVENTORY_INI = """\
# This inventory describe a HA typology with stacked etcd (== same nodes as control plane)
# and 2 worker nodes
[kube_control_plane]
node1 ansible_host={n}1 ip={n}1 etcd_member_name=node1
node2 ansible_host={n}2 ip={n}2 etcd_member_name=node2
node3 ansible_host={n}3 ip={n}3 etcd_member_name=node3

[etcd:children]
kube_control_plane

[kube_node]
node4 ansible_host={n}4 ip={n}4
node5 ansible_host={n}5 ip={n}5
"""

# group_vars as kubespray's sample has them (a few of their lines)
ALL_YML = """\
---
## Directory where the binaries will be installed
bin_dir: /usr/local/bin
## External LB example config
# loadbalancer_apiserver:
#   address: 1.2.3.4
#   port: 1234
loadbalancer_apiserver_port: 6443
loadbalancer_apiserver_healthcheck_port: 8081
"""
ETCD_YML = """\
---
## Directory where etcd data stored
etcd_data_dir: /var/lib/etcd
## Container runtime
## docker for docker, crio for cri-o and containerd for containerd.
etcd_deployment_type: host
"""
K8S_CLUSTER_YML = """\
---
kube_version: 1.32.5
kube_service_addresses: 10.233.0.0/18
kube_pods_subnet: 10.233.64.0/18
kube_apiserver_ip: "{{ kube_service_addresses | ansible.utils.ipaddr('net') \
| ansible.utils.ipaddr(1) | ansible.utils.ipaddr('address') }}"
"""
# What the README asks a kubespray user to add (group_vars/all/etcdops.yml): how to log in.
ETCDOPS_YML = """\
# etcdops logs in as Ansible does; kubespray's inventory usually sets these already
ansible_user: root
ansible_port: 2222
ansible_ssh_private_key_file: {lab}/ssh/id_ed25519
"""
# Only because every lab host is a directory of this machine (on real hosts: kubespray's defaults).
LAB_YML = """\
bin_dir: "{lab}/hosts/{{{{ inventory_hostname }}}}/bin"
etcd_data_dir: "{lab}/hosts/{{{{ inventory_hostname }}}}/var/lib/etcd"
etcd_env_file: "{lab}/hosts/{{{{ inventory_hostname }}}}/etc/etcd/etcd.env"
etcd_cert_dir: "{lab}/hosts/{{{{ inventory_hostname }}}}/etc/ssl/etcd/ssl"
etcd_start_cmd: "{lab}/hosts/{{{{ inventory_hostname }}}}/bin/etcd-service start"
etcd_stop_cmd: "{lab}/hosts/{{{{ inventory_hostname }}}}/bin/etcd-service stop"
etcd_restart_cmd: "{lab}/hosts/{{{{ inventory_hostname }}}}/bin/etcd-service restart"
etcd_status_cmd: "{lab}/hosts/{{{{ inventory_hostname }}}}/bin/etcd-service status"
etcdops_lock_file: "{lab}/hosts/{{{{ inventory_hostname }}}}/run/etcdops.lock"
etcd_listen_client_urls: "https://{{{{ ip }}}}:2379"
etcd_env:
  ETCD_LISTEN_CLIENT_URLS: "https://{{{{ ip }}}}:2379"
  ETCDCTL_ENDPOINTS: "https://{{{{ ip }}}}:2379"
etcd_election_timeout: 1000
etcd_heartbeat_interval: 100
etcd_experimental_initial_corrupt_check: false
"""


class Checkout:
    """A kubespray checkout with inventory/mycluster, and a home of its own (no known_hosts)."""

    def __init__(self, lab: LabEnv, base: Path) -> None:
        self.lab, self.dir, self.home = lab, base / "kubespray", base / "home"
        self.home.mkdir(parents=True)
        inv = self.dir / "inventory" / "mycluster"
        for folder in ("all", "k8s_cluster"):
            (inv / "group_vars" / folder).mkdir(parents=True)
        (self.dir / "ansible.cfg").write_text(ANSIBLE_CFG)
        (inv / "inventory.ini").write_text(INVENTORY_INI.format(n=lab.net))
        (inv / "group_vars" / "all" / "all.yml").write_text(ALL_YML)
        (inv / "group_vars" / "all" / "etcd.yml").write_text(ETCD_YML)
        (inv / "group_vars" / "k8s_cluster" / "k8s-cluster.yml").write_text(K8S_CLUSTER_YML)
        lab_dir = lab.root / ".lab"
        (inv / "group_vars" / "all" / "etcdops.yml").write_text(ETCDOPS_YML.format(lab=lab_dir))
        (inv / "group_vars" / "all" / "zz-lab.yml").write_text(LAB_YML.format(lab=lab_dir))
        self.inventory = "inventory/mycluster/inventory.ini"
        self.known = self.home / ".ssh" / "known_hosts"

    def keys_known(self) -> None:
        """For the tests after the walk-through, each on its own: the lab's own known_hosts (the
        keys the walk-through trusts), when the walk-through did not leave them."""
        if not self.known.exists():
            self.known.parent.mkdir(mode=0o700, exist_ok=True)
            shutil.copyfile(self.lab.root / ".lab" / "ssh" / "known_hosts", self.known)

    def variant(self, name: str, **extra: str) -> str:
        """A copy of inventory/mycluster with more group_vars/all files."""
        target = self.dir / "inventory" / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.dir / "inventory" / "mycluster", target)
        for file, text in extra.items():
            (target / "group_vars" / "all" / f"{file}.yml").write_text(text)
        return f"inventory/{name}/inventory.ini"

    def etcdops(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {**self.lab.env, "HOME": str(self.home)}
        return subprocess.run(
            [str(ETCDOPS), *args],
            cwd=self.dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def klab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("kubespray"), NET) as labenv:
        yield labenv


@pytest.fixture(scope="module")
def checkout(klab: LabEnv, tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    return Checkout(klab, tmp_path_factory.mktemp("first-day"))


def lab_fingerprint(lab: LabEnv, host: str) -> str:
    pub = lab.host_root(host) / "ssh" / "ssh_host_ed25519_key.pub"
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[1]


def test_from_inventory_mycluster_to_a_first_status(klab: LabEnv, checkout: Checkout) -> None:
    directory = checkout.etcdops("status", "-i", "inventory/mycluster")
    assert directory.returncode == 2
    assert "skips inventory.ini in a directory" in directory.stderr
    assert "-i inventory/mycluster/inventory.ini" in directory.stderr

    refused = checkout.etcdops("status", "-i", checkout.inventory)
    assert refused.returncode == 7, refused.stdout + refused.stderr
    assert "UNKNOWN HOST KEY" in refused.stderr and "etcdops hosts trust" in refused.stderr

    listed = checkout.etcdops("hosts", "trust", "-i", checkout.inventory, "--list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "UserKnownHostsFile=/dev/null and host_key_checking=False" in listed.stdout
    assert "etcdops always does" in listed.stdout
    for host in ("node1", "node2", "node3", "node4", "node5"):
        row = next(line for line in listed.stdout.splitlines() if line.startswith(host + " "))
        assert lab_fingerprint(klab, host) in row and " new: " in row, row
    assert not checkout.known.exists()  # --list writes nothing

    unattended = checkout.etcdops("hosts", "trust", "-i", checkout.inventory)
    assert unattended.returncode == 3 and "--yes" in unattended.stderr
    assert not checkout.known.exists()

    trusted = checkout.etcdops("hosts", "trust", "-i", checkout.inventory, "--yes")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert f"added 5 key(s) to {checkout.known}" in trusted.stdout
    again = checkout.etcdops("hosts", "trust", "-i", checkout.inventory, "--list")
    assert (
        again.stdout.count(" known: matches ") == 5 and "every host's key is known" in again.stdout
    )

    status = checkout.etcdops("status", "-i", checkout.inventory, "--check")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "HEALTHY" in status.stdout and "voters 3 (healthy 3)" in status.stdout


def test_a_wrong_bin_dir_names_the_path_and_the_variable(checkout: Checkout) -> None:
    checkout.keys_known()
    inv = checkout.variant("wrongbin", zzz="bin_dir: /usr/local/bin\n")
    proc = checkout.etcdops("status", "-i", inv)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "etcdctl is not at /usr/local/bin/etcdctl" in proc.stdout
    assert "bin_dir" in proc.stdout and "DOWN" not in proc.stdout
    assert "error: no member's etcd could be read" in proc.stderr and "bin_dir" in proc.stderr


def test_a_changed_key_is_never_replaced(checkout: Checkout, tmp_path: Path) -> None:
    checkout.keys_known()
    original = checkout.known.read_text()
    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    other = key.with_suffix(".pub").read_text().split()[1]
    lines = original.splitlines()
    lines[0] = " ".join([*lines[0].split()[:2], other])  # node1's line now holds another key
    checkout.known.write_text("\n".join(lines) + "\n")
    try:
        proc = checkout.etcdops("hosts", "trust", "-i", checkout.inventory, "--yes")
        assert proc.returncode == 7, proc.stdout + proc.stderr
        assert "HOST KEY CHANGED" in proc.stderr and "CHANGED:" in proc.stdout
        assert checkout.known.read_text().splitlines()[0].split()[2] == other  # left as it was
        assert checkout.etcdops("status", "-i", checkout.inventory).returncode == 7
    finally:
        checkout.known.write_text(original)


def test_a_known_hosts_file_named_in_ansible_ssh_common_args_is_the_one_used(
    checkout: Checkout, tmp_path: Path
) -> None:
    mine = tmp_path / "cluster_known_hosts"
    inv = checkout.variant(
        "ownkeys",
        ssh='ansible_ssh_common_args: "-o StrictHostKeyChecking=yes '
        f'-o UserKnownHostsFile={mine}"\n',
    )
    proc = checkout.etcdops("hosts", "trust", "-i", inv, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"added 5 key(s) to {mine}" in proc.stdout and "note:" not in proc.stdout
    assert len(mine.read_text().splitlines()) == 5
    assert checkout.etcdops("status", "-i", inv, "--check").returncode == 0


def test_the_inventory_follows_a_scale_out_and_a_scale_in(klab: LabEnv, checkout: Checkout) -> None:
    checkout.keys_known()
    from etcdops.inventory import load_inventory
    from etcdops.transport.ansible import run_playbook

    lab_inv = load_inventory(klab.root / "inventories" / "lab")
    installed = run_playbook(
        lab_inv.path, str(REPO / "playbooks" / "install-etcd.yml"), ("node4",), {}, 600
    )
    assert installed.status == "successful", installed.stdout_tail
    ini = checkout.dir / checkout.inventory
    before = ini.read_text()

    out = checkout.etcdops(
        "run",
        "scale-out",
        "-i",
        checkout.inventory,
        "-p",
        "host=node4",
        "-p",
        "install=false",
        "--yes",
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "+[etcd]\n+node4 etcd_member_name=node4\n+\n [etcd:children]" in out.stdout
    assert "inventory: not changed; apply it with `etcdops inventory sync" in out.stdout
    assert ini.read_text() == before  # not asked to: only shown

    refused = checkout.etcdops("plan", "compact-defrag", "-i", checkout.inventory)
    assert refused.returncode == 3 and "not in it: node4" in refused.stderr
    assert "etcdops inventory sync -i" in refused.stderr

    synced = checkout.etcdops("inventory", "sync", "-i", checkout.inventory, "--yes")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "[etcd]\nnode4 etcd_member_name=node4\n\n[etcd:children]" in ini.read_text()
    assert list(ini.parent.glob("inventory.ini.*.bak"))
    assert checkout.etcdops("plan", "compact-defrag", "-i", checkout.inventory).returncode == 0

    back = checkout.etcdops(
        "run",
        "scale-in",
        "-i",
        checkout.inventory,
        "-p",
        "host=node4",
        "--yes",
        "--update-inventory",
    )
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]
    assert "inventory: changed" in back.stdout
    text = ini.read_text()
    assert "node4 etcd_member_name" not in text and "node4 ansible_host=" in text
    assert checkout.etcdops("plan", "compact-defrag", "-i", checkout.inventory).returncode == 0


def test_a_host_whose_ssh_fails_is_shown_as_such_its_etcd_read_through_another(
    klab: LabEnv, checkout: Checkout
) -> None:
    checkout.keys_known()
    pid = int((klab.host_root("node3") / "run" / "sshd.pid").read_text())
    os.kill(pid, signal.SIGTERM)  # node3's sshd is gone; its etcd still runs
    try:
        proc = checkout.etcdops("status", "-i", checkout.inventory)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        row = next(line for line in proc.stdout.splitlines() if line.startswith("  node3 "))
        assert "host unreachable (node3: cannot connect" in row, row
        assert "etcd healthy, read through node" in row, row
        assert "NOT HEALTHY" not in proc.stdout and "voters 3 (healthy 3)" in proc.stdout
    finally:
        klab.etcdops("lab", "up", check=True, timeout=180)  # restarts the whole lab cleanly
