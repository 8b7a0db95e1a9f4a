"""`etcdops lab up | down | status`: start and stop exactly the lab's processes, by pid."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from etcdops import units
from etcdops.errors import EtcdopsError
from etcdops.inventory import Host, Inventory, load_inventory
from etcdops.lab import lab_net, pki
from etcdops.lab.binaries import TOOLS, find_etcd_bin_dir
from etcdops.templating import env_update

SSH_PORT = 2222
UP_TIMEOUT = 30.0
KEEP_PREVIOUS = 2  # previous labs kept in .lab/previous/ by `lab up`
STOP_TIMEOUT = 15.0
HOSTS_HEADER = """\
# The local lab: one "host" per loopback address, each with its own sshd on port
# 2222 and its own root under .lab/hosts/NAME/. Written by `etcdops lab up`
# (this is its default: 3 members and 2 spares); edit group_vars/all/00-lab.yml, not this file.
"""
TLS_MODE = """\
# Written by `etcdops lab up`: TLS on client and peer URLs with client-certificate auth on both,
# certificates in kubespray's layout (etc/ssl/etcd/ssl/ of each host root), read through
# etcdops' kubespray profile from kubespray's own variables. `lab up --plaintext` writes http.
etcdops_profile: kubespray
etcd_member_name: "{{ inventory_hostname }}"
etcd_cert_dir: "{{ host_root }}/etc/ssl/etcd/ssl"
# every lab host is this machine: a member listens on its own address, not also on 127.0.0.1
etcd_listen_client_urls: "https://{{ ip }}:2379"
etcd_env:
  ETCD_LISTEN_CLIENT_URLS: "https://{{ ip }}:2379"
  ETCDCTL_ENDPOINTS: "https://{{ ip }}:2379"
# kubespray's own tunables, at etcd's defaults so that the lab's tests stay quick
etcd_election_timeout: 1000
etcd_heartbeat_interval: 100
etcd_experimental_initial_corrupt_check: false
"""
PLAIN_MODE = """\
# Written by `etcdops lab up --plaintext`: plain http, no TLS.
etcd_peer_url: "http://{{ ansible_host }}:2380"
etcd_client_url: "http://{{ ansible_host }}:2379"
"""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HostState:
    name: str
    address: str
    member: bool
    sshd_pid: int | None
    etcd_pid: int | None

    @property
    def sshd_up(self) -> bool:
        return self.sshd_pid is not None

    @property
    def etcd_up(self) -> bool:
        return self.etcd_pid is not None


class Lab:
    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root.resolve()
        self.inventory_dir = self.project_root / "inventories" / "lab"
        self.root = self.project_root / ".lab"
        self.ssh_dir = self.root / "ssh"
        # 127.0.1.N by default; tests use another /24 of loopback so they never meet a user's lab
        self.net = lab_net()
        if (
            not self.net.startswith("127.")
            or self.net.count(".") != 3
            or not self.net.endswith(".")
        ):
            raise EtcdopsError(
                f"ETCDOPS_LAB_NET={self.net!r}: the lab lives on loopback, e.g. 127.0.1."
            )

    # ----- up -------------------------------------------------------------
    def up(
        self, members: int = 3, spares: int = 2, progress: Progress = print, tls: bool = True
    ) -> Inventory:
        if members < 1 or spares < 0 or members + spares > 50:
            raise EtcdopsError("lab up: want 1 to 50 hosts, at least one member")
        if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
            raise EtcdopsError("lab up: sshd not found: run `make setup` (Debian's openssh-server)")
        if any(h.sshd_up or h.etcd_up for h in self.status()):
            progress("lab: a previous lab is still running; stopping it first")
            self.down(progress)
        self._keep_previous(progress)
        self._write_inventory(members, spares, tls)
        inv = load_inventory(self.inventory_dir)
        self._check_ports_free(inv)
        bin_dir = find_etcd_bin_dir(self.project_root)
        self._ssh_keys()
        hosts = list(inv.hosts.values())
        self._dist(bin_dir)
        member_names = {h.name for h in inv.members}
        if tls:
            progress("lab: TLS on client and peer URLs (certificates in kubespray's layout)")
            ca, ca_key = pki.make_ca(self.root / "pki")
            for host in hosts:
                pki.host_certs(
                    ca,
                    ca_key,
                    self._host_root(host) / "etc" / "ssl" / "etcd" / "ssl",
                    host.name,
                    host.address,
                )
        for host in hosts:
            self._prepare_host(host)
            # spares get etcd from playbooks/install-etcd.yml (scale-out)
            if host.name in member_names:
                self._install_etcd(host)
        self._known_hosts(hosts)
        for host in hosts:
            self._start_sshd(host)
        token = "lab-" + secrets.token_hex(4)
        for host in inv.members:
            self._write_env(host, inv, token)
            self._service(host, "start")
        self._wait_healthy(inv, bin_dir, progress)
        progress(f"lab: {len(inv.members)} members and {len(hosts) - len(inv.members)} spares up")
        return inv

    def _keep_previous(self, progress: Progress = print) -> None:
        """A new lab starts empty: the previous lab's data, env files and installed etcd move to
        .lab/previous/STAMP/; the last KEEP_PREVIOUS previous labs are kept, an older one is
        removed (and said so). `lab prune` removes them all; `make clean` removes .lab."""
        hosts_root = self.root / "hosts"
        if hosts_root.is_dir():
            keep = self.root / "previous" / time.strftime("%Y%m%dT%H%M%S")
            for root in sorted(hosts_root.iterdir()):
                for sub in ("var/lib", "etc/etcd", "bin"):
                    if (root / sub).exists() and any((root / sub).iterdir()):
                        (keep / root.name / sub).parent.mkdir(parents=True, exist_ok=True)
                        (root / sub).rename(keep / root.name / sub)
        previous = (
            sorted((self.root / "previous").iterdir()) if (self.root / "previous").is_dir() else []
        )
        for old in previous[:-KEEP_PREVIOUS] if len(previous) > KEEP_PREVIOUS else []:
            size = _du(old)
            shutil.rmtree(old)
            progress(
                f"lab: removed the previous lab {old.name} ({units.size(size)}): only the last "
                f"{KEEP_PREVIOUS} are kept"
            )

    def prune(self, progress: Progress = print) -> int:
        """Remove every previous lab kept in .lab/previous; returns the bytes freed."""
        folder = self.root / "previous"
        freed = 0
        for old in sorted(folder.iterdir()) if folder.is_dir() else []:
            freed += _du(old)
            shutil.rmtree(old)
            progress(f"lab: removed the previous lab {old.name}")
        return freed

    def _write_inventory(self, members: int, spares: int, tls: bool) -> None:
        """TLS: kubespray's shape (inventory.ini, `ip=` per host); plaintext: hosts.yml. The other
        is removed (a directory of inventory files would merge both); 10-mode.yml says which."""
        groups = (
            ("etcd", range(1, members + 1)),
            ("spares", range(members + 1, members + spares + 1)),
        )
        if tls:
            lines = [HOSTS_HEADER.rstrip("\n")]
            for group, names in groups:
                lines += [
                    f"[{group}]",
                    *(f"node{i} ansible_host={self.net}{i} ip={self.net}{i}" for i in names),
                    "",
                ]
            hosts_file, other, mode = "inventory.ini", "hosts.yml", TLS_MODE
        else:
            lines = [HOSTS_HEADER.rstrip("\n"), "all:", "  children:"]
            for group, names in groups:
                lines += [f"    {group}:", "      hosts:" if names else "      hosts: {}"]
                lines += [f"        node{i}:\n          ansible_host: {self.net}{i}" for i in names]
            hosts_file, other, mode = "hosts.yml", "inventory.ini", PLAIN_MODE
        (self.inventory_dir / other).unlink(missing_ok=True)
        _write_if_changed(self.inventory_dir / hosts_file, "\n".join(lines).rstrip("\n") + "\n")
        (self.inventory_dir / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
        _write_if_changed(self.inventory_dir / "group_vars" / "all" / "10-mode.yml", mode)

    def _check_ports_free(self, inv: Inventory) -> None:
        for host in inv.hosts.values():
            for port in (SSH_PORT, 2379, 2380):
                if _port_open(host.address, port):
                    raise EtcdopsError(
                        f"lab up: {host.address}:{port} is already in use by a process the lab "
                        f"did not start ({_who_listens(host.address, port)}); stop it first"
                    )

    def _ssh_keys(self) -> None:
        self.ssh_dir.mkdir(parents=True, exist_ok=True)
        key = self.ssh_dir / "id_ed25519"
        if not key.exists():
            _run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "etcdops-lab", "-f", str(key)]
            )
        shutil.copyfile(key.with_suffix(".pub"), self.ssh_dir / "authorized_keys")

    def _host_root(self, host: Host) -> Path:
        return self.root / "hosts" / host.name

    def _dist(self, bin_dir: Path) -> None:
        """.lab/dist/: what the install playbook copies to a lab host (etcd binaries, the service
        script)."""
        dist = self.root / "dist"
        (dist / "bin").mkdir(parents=True, exist_ok=True)
        _link_tools(bin_dir, dist / "bin")
        script = resources.files("etcdops.lab").joinpath("etcd-service.sh").read_text()
        (dist / "etcd-service.sh").write_text(script)

    def _install_etcd(self, host: Host) -> None:
        """What install-etcd.yml does, done directly for the lab's initial members."""
        root = self._host_root(host)
        dist = self.root / "dist"
        _link_tools(dist / "bin", root / "bin")
        service = root / "bin" / "etcd-service"
        service.write_text(
            (dist / "etcd-service.sh").read_text().replace("@HOST_ROOT@", str(root.resolve()))
        )
        service.chmod(0o755)

    def _prepare_host(self, host: Host) -> None:
        root = self._host_root(host)
        for sub in ("etc/etcd", "var/lib", "var/log", "bin", "run", "ssh"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        hostkey = root / "ssh" / "ssh_host_ed25519_key"
        if not hostkey.exists():
            _run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", str(hostkey)]
            )
        # SetEnv SHLVL=1: Debian's bash sources ~/.bashrc for every non-interactive SSH command at
        # shell level 1; a lab host is this machine, whose root .bashrc (pyenv, cargo) is a
        # developer's, not a server's, and cost ~80 ms per command. At SHLVL 2 bash skips it.
        (root / "ssh" / "sshd_config").write_text(
            f"ListenAddress {host.address}:{SSH_PORT}\n"
            f"HostKey {hostkey}\n"
            f"PidFile {root / 'run' / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.ssh_dir / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "AllowTcpForwarding yes\nSubsystem sftp internal-sftp\n"
            "MaxStartups 100:30:200\nMaxSessions 50\nSetEnv SHLVL=1\n"
        )

    def _known_hosts(self, hosts: list[Host]) -> None:
        lines = []
        for host in hosts:
            pub = (self._host_root(host) / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"[{host.address}]:{SSH_PORT} {pub[0]} {pub[1]}")
        (self.ssh_dir / "known_hosts").write_text("\n".join(lines) + "\n")

    def _start_sshd(self, host: Host) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        root = self._host_root(host)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        _run(
            [
                sshd,
                "-f",
                str(root / "ssh" / "sshd_config"),
                "-E",
                str(root / "var" / "log" / "sshd.log"),
            ]
        )
        _wait_for(
            lambda: _port_open(host.address, SSH_PORT),
            UP_TIMEOUT,
            f"sshd of {host.name} did not listen on {host.address}:{SSH_PORT}",
        )

    def _write_env(self, host: Host, inv: Inventory, token: str) -> None:
        assert host.etcd is not None
        etcd = host.etcd
        settings: dict[str, object] = {
            "ETCD_NAME": etcd.name,
            "ETCD_DATA_DIR": etcd.data_dir,
            "ETCD_LISTEN_PEER_URLS": etcd.peer_url,
            "ETCD_LISTEN_CLIENT_URLS": etcd.client_url,
            "ETCD_INITIAL_ADVERTISE_PEER_URLS": etcd.peer_url,
            "ETCD_ADVERTISE_CLIENT_URLS": etcd.client_url,
            "ETCD_INITIAL_CLUSTER": inv.initial_cluster(),
            "ETCD_INITIAL_CLUSTER_TOKEN": token,
            "ETCD_INITIAL_CLUSTER_STATE": "new",
        }
        if etcd.quota_backend_bytes:
            settings["ETCD_QUOTA_BACKEND_BYTES"] = etcd.quota_backend_bytes
        if etcd.wal_dir:
            settings["ETCD_WAL_DIR"] = etcd.wal_dir
        # the inventory's etcd_env, the lab's own settings win
        settings = {
            **lab_env_extra(host),
            **settings,
        }
        # values quoted as the service script's `. FILE` and systemd's EnvironmentFile both read
        # them
        header = f"# etcd.env of lab host {host.name} (written by etcdops lab up)"
        Path(etcd.env_file).write_text(env_update(header, settings) + "\n")

    def _service(self, host: Host, action: str) -> None:
        _run([str(self._host_root(host) / "bin" / "etcd-service"), action])

    def _wait_healthy(self, inv: Inventory, bin_dir: Path, progress: Progress) -> None:
        endpoints = ",".join(h.etcd.client_url for h in inv.members if h.etcd)
        first = inv.members[0].etcd
        assert first is not None
        tls = [
            f"{flag}={value}"
            for flag, value in (
                ("--cacert", first.cacert),
                ("--cert", first.cert),
                ("--key", first.key),
            )
            if value
        ]
        cmd = [
            str(bin_dir / "etcdctl"),
            f"--endpoints={endpoints}",
            "--dial-timeout=1s",
            "--command-timeout=2s",
            *tls,
            "endpoint",
            "health",
        ]
        progress(f"lab: waiting for {len(inv.members)} etcd members to be healthy")
        _wait_for(
            lambda: subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0,
            UP_TIMEOUT,
            "lab etcd cluster did not become healthy; see .lab/hosts/*/var/log/etcd.log",
        )

    # ----- down / status ---------------------------------------------------
    def status(self) -> list[HostState]:
        hosts_root = self.root / "hosts"
        if not hosts_root.is_dir():
            return []
        result = []
        for root in sorted(hosts_root.iterdir()):
            address = _listen_address(root)
            result.append(
                HostState(
                    name=root.name,
                    address=address,
                    member=(root / "etc" / "etcd" / "etcd.env").exists(),
                    sshd_pid=_live_pid(root / "run" / "sshd.pid", "sshd", str(root)),
                    etcd_pid=_live_pid(root / "run" / "etcd.pid", "etcd", str(root.resolve())),
                )
            )
        return result

    def down(self, progress: Progress = print) -> int:
        stopped = 0
        for state in self.status():
            root = self.root / "hosts" / state.name
            for pid, what, pidfile in (
                (state.etcd_pid, "etcd", "etcd.pid"),
                (state.sshd_pid, "sshd", "sshd.pid"),
            ):
                if pid is None:
                    continue
                _stop_pid(pid, STOP_TIMEOUT)
                (root / "run" / pidfile).unlink(missing_ok=True)
                progress(f"lab: stopped {what} of {state.name} (pid {pid})")
                stopped += 1
        return stopped


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return total


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def lab_env_extra(host: Host) -> dict[str, object]:
    """The inventory's etcd_env settings (TLS files, ...) for a lab member's first etcd.env."""
    assert host.etcd is not None
    return dict(host.etcd.env)


def _link_tools(src: Path, dst: Path) -> None:
    """dst/etcd, etcdctl, etcdutl as symlinks to the real files in src (etcd 3.4 has no etcdutl)."""
    for tool in TOOLS:
        link = dst / tool
        if link.is_symlink() or link.exists():
            link.unlink()
        if (src / tool).exists():
            link.symlink_to((src / tool).resolve())


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise EtcdopsError(
            f"lab: {' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout.strip()}"
        )


def _wait_for(check: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise EtcdopsError(f"lab: {message} (waited {timeout:g}s)")


def _port_open(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0


def _who_listens(address: str, port: int) -> str:
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"src {address}:{port}"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown process"
    return out.split("users:")[-1] if "users:" in out else "unknown process"


def _listen_address(root: Path) -> str:
    config = root / "ssh" / "sshd_config"
    if config.exists():
        for line in config.read_text().splitlines():
            if line.startswith("ListenAddress"):
                return line.split()[1].rsplit(":", 1)[0]
    return "?"


def _live_pid(pidfile: Path, name: str, marker: str) -> int | None:
    """The pid in pidfile if that process is alive, not a zombie, and really ours."""
    try:
        pid = int(pidfile.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return None
    return pid if name in cmdline and marker in cmdline else None


def _stop_pid(pid: int, timeout: float) -> None:
    """TERM, wait (bounded), then KILL: the lab is ours to stop."""
    for sig, wait in ((signal.SIGCONT, 0.0), (signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return
            time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
