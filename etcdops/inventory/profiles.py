"""Deployment layouts etcdops understands without rewriting the inventory: each profile says where
an etcdops setting comes from when the inventory does not set it itself (anything set explicitly
wins). Profiles read the layout's own variables, rendered by Ansible like any other.

- `kubespray` (auto-detected from kubespray's variables or groups, or `etcdops_profile: kubespray`):
  kubespray's etcd role on hosts: member name `etcd_member_name` (else etcdN by position in the etcd
  group, as kubespray does), URLs from `etcd_access_address` (`access_ip`, else `ip`, else the
  address etcdops connects to) with https on 2379/2380, listen URLs from `etcd_address` (`ip`),
  certs in `etcd_cert_dir` (/etc/ssl/etcd/ssl: ca.pem, admin-HOST.pem, member-HOST.pem, ...),
  /etc/etcd.env, the systemd unit `etcd`, `bin_dir`; a joining host's etcd.env has every line
  kubespray's etcd.env.j2 writes for it.
- `kubeadm`: etcd under systemd with kubeadm's certificates in /etc/kubernetes/pki/etcd/ (ca.crt,
  healthcheck-client.crt/key; server.crt, peer.crt for a joining host), URLs https on `ip` or the
  address etcdops connects to.
- `default`: etcd_peer_url and etcd_client_url must be set; systemd unit `etcd`, /etc/etcd/etcd.env.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from typing import Any

PROFILES = ("default", "kubespray", "kubeadm")
KUBESPRAY_HINTS = (
    "etcd_member_name",
    "etcd_deployment_type",
    "kube_network_plugin",
    "kube_version",
    "kube_proxy_mode",
    "etcd_cert_dir",
)
KUBESPRAY_GROUPS = ("kube_control_plane", "kube_node", "k8s_cluster")

Get = Callable[[str, Any], Any]  # (variable, default) → the host's value rendered, or default


def detect(get: Get, groups: dict[str, tuple[str, ...]]) -> str:
    explicit = get("etcdops_profile", None)
    if explicit:
        return str(explicit)
    if any(get(k, None) is not None for k in KUBESPRAY_HINTS) or any(
        g in groups for g in KUBESPRAY_GROUPS
    ):
        return "kubespray"
    return "default"


def wrap(address: str) -> str:
    try:
        return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address


class Kubespray:
    name = "kubespray"

    def __init__(
        self, host: str, get: Get, groups: dict[str, tuple[str, ...]], address: str
    ) -> None:
        self.host, self.get, self.groups, self.address = host, get, groups, address

    def etcd_address(self) -> str:
        return str(self.get("etcd_address", None) or self.get("ip", None) or self.address)

    def access_address(self) -> str:
        return str(
            self.get("etcd_access_address", None)
            or self.get("access_ip", None)
            or self.etcd_address()
        )

    def cert_dir(self) -> str:
        config = self.get("etcd_config_dir", None) or "/etc/ssl/etcd"
        return _path(str(self.get("etcd_cert_dir", None) or f"{config}/ssl"))

    def defaults(self) -> dict[str, Any]:
        certs, host = self.cert_dir(), self.host
        access, listen = wrap(self.access_address()), wrap(self.etcd_address())
        members = list(self.groups.get("etcd", ()))
        name = self.get("etcd_member_name", None) or (
            f"etcd{members.index(host) + 1}" if host in members else host
        )
        return {
            "etcd_name": str(name).strip(),
            "etcd_peer_url": f"https://{access}:2380",
            "etcd_client_url": f"https://{access}:2379",
            "etcd_listen_client_urls": f"https://{listen}:2379,https://127.0.0.1:2379",
            "etcd_listen_peer_urls": f"https://{listen}:2380",
            "etcd_data_dir": "/var/lib/etcd",
            "etcd_env_file": "/etc/etcd.env",
            "etcd_bin_dir": self.get("bin_dir", None) or "/usr/local/bin",
            "etcd_cacert": f"{certs}/ca.pem",
            "etcd_cert": f"{certs}/admin-{host}.pem",
            "etcd_key": f"{certs}/admin-{host}-key.pem",
            "etcd_env": self.env(certs, listen, str(name).strip()),
        }

    def env(self, certs: str, listen: str, name: str) -> dict[str, str]:
        """The lines of kubespray's roles/etcd/templates/etcd.env.j2 for this host (the ones etcdops
        owns, ETCD_NAME and ETCD_INITIAL_*, are written by etcdops itself and win)."""
        get, host = self.get, self.host
        env: dict[str, Any] = {
            "ETCD_DATA_DIR": get("etcd_data_dir", None) or "/var/lib/etcd",
            "ETCD_METRICS": get("etcd_metrics", None) or "basic",
        }
        if get("etcd_listen_metrics_urls", None) is not None:
            env["ETCD_LISTEN_METRICS_URLS"] = get("etcd_listen_metrics_urls", None)
        elif get("etcd_metrics_port", None) is not None:
            port = get("etcd_metrics_port", None)
            env["ETCD_LISTEN_METRICS_URLS"] = f"http://{listen}:{port},http://127.0.0.1:{port}"
        env.update(
            {
                "ETCD_LISTEN_CLIENT_URLS": f"https://{listen}:2379,https://127.0.0.1:2379",
                "ETCD_ELECTION_TIMEOUT": get("etcd_election_timeout", None) or "5000",
                "ETCD_HEARTBEAT_INTERVAL": get("etcd_heartbeat_interval", None) or "250",
                "ETCD_INITIAL_CLUSTER_TOKEN": "k8s_etcd",
                "ETCD_LISTEN_PEER_URLS": f"https://{listen}:2380",
                "ETCD_NAME": name,
                "ETCD_PROXY": "off",
                "ETCD_AUTO_COMPACTION_RETENTION": get("etcd_compaction_retention", None) or "8",
                "ETCD_SNAPSHOT_COUNT": get("etcd_snapshot_count", None) or "100000",
                "ETCD_QUOTA_BACKEND_BYTES": get("etcd_quota_backend_bytes", None) or "2147483648",
                "ETCD_MAX_REQUEST_BYTES": get("etcd_max_request_bytes", None) or "1572864",
                "ETCD_LOG_LEVEL": get("etcd_log_level", None) or "info",
                "ETCD_MAX_SNAPSHOTS": _text(get("etcd_max_snapshots", 5)),
                "ETCD_MAX_WALS": _text(get("etcd_max_wals", 5)),
                "ETCD_TRUSTED_CA_FILE": f"{certs}/ca.pem",
                "ETCD_CERT_FILE": f"{certs}/member-{host}.pem",
                "ETCD_KEY_FILE": f"{certs}/member-{host}-key.pem",
                "ETCD_CLIENT_CERT_AUTH": _text(get("etcd_secure_client", True)).lower(),
                "ETCD_PEER_TRUSTED_CA_FILE": f"{certs}/ca.pem",
                "ETCD_PEER_CERT_FILE": f"{certs}/member-{host}.pem",
                "ETCD_PEER_KEY_FILE": f"{certs}/member-{host}-key.pem",
                "ETCD_PEER_CLIENT_CERT_AUTH": _text(get("etcd_peer_client_auth", True)),
            }
        )
        suites = get("etcd_tls_cipher_suites", None)
        if suites:
            env["ETCD_CIPHER_SUITES"] = ",".join(str(s) for s in suites)
        env.update({str(k): v for k, v in (get("etcd_extra_vars", None) or {}).items()})
        env.update(
            {
                "ETCDCTL_ENDPOINTS": "https://127.0.0.1:2379",
                "ETCDCTL_CACERT": f"{certs}/ca.pem",
                "ETCDCTL_KEY": f"{certs}/admin-{host}-key.pem",
                "ETCDCTL_CERT": f"{certs}/admin-{host}.pem",
                "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK": _text(
                    get("etcd_experimental_initial_corrupt_check", True)
                ),
            }
        )
        if get("etcd_experimental_enable_distributed_tracing", False):
            env.update(
                {
                    "ETCD_EXPERIMENTAL_ENABLE_DISTRIBUTED_TRACING": "true",
                    "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_SAMPLING_RATE": _text(
                        get("etcd_experimental_distributed_tracing_sample_rate", 100)
                    ),
                    "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_ADDRESS": get(
                        "etcd_experimental_distributed_tracing_address", None
                    )
                    or "localhost:4317",
                    "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_SERVICE_NAME": get(
                        "etcd_experimental_distributed_tracing_service_name", None
                    )
                    or "etcd",
                    "ETCD_EXPERIMENTAL_DISTRIBUTED_TRACING_INSTANCE_ID": name,
                }
            )
        env["ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL"] = (
            get("etcd_experimental_watch_progress_notify_interval", None) or "5s"
        )
        return {k: _text(v) for k, v in env.items()}


class Kubeadm:
    name = "kubeadm"
    PKI = "/etc/kubernetes/pki/etcd"

    def __init__(
        self, host: str, get: Get, groups: dict[str, tuple[str, ...]], address: str
    ) -> None:
        self.host, self.get, self.address = host, get, address

    def defaults(self) -> dict[str, Any]:
        address = wrap(str(self.get("ip", None) or self.address))
        pki = self.PKI
        return {
            "etcd_peer_url": f"https://{address}:2380",
            "etcd_client_url": f"https://{address}:2379",
            "etcd_cacert": f"{pki}/ca.crt",
            "etcd_cert": f"{pki}/healthcheck-client.crt",
            "etcd_key": f"{pki}/healthcheck-client.key",
            "etcd_env": {
                "ETCD_TRUSTED_CA_FILE": f"{pki}/ca.crt",
                "ETCD_CERT_FILE": f"{pki}/server.crt",
                "ETCD_KEY_FILE": f"{pki}/server.key",
                "ETCD_CLIENT_CERT_AUTH": "true",
                "ETCD_PEER_TRUSTED_CA_FILE": f"{pki}/ca.crt",
                "ETCD_PEER_CERT_FILE": f"{pki}/peer.crt",
                "ETCD_PEER_KEY_FILE": f"{pki}/peer.key",
                "ETCD_PEER_CLIENT_CERT_AUTH": "true",
            },
        }


def profile_defaults(
    profile: str, host: str, get: Get, groups: dict[str, tuple[str, ...]], address: str
) -> dict[str, Any]:
    if profile == "kubespray":
        return Kubespray(host, get, groups, address).defaults()
    if profile == "kubeadm":
        return Kubeadm(host, get, groups, address).defaults()
    return {}


def _path(text: str) -> str:
    return os.path.normpath(text) if text.startswith("/") else text


def _text(value: Any) -> str:
    return "" if value is None else str(value)
