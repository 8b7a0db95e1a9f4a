"""What etcdops reads from each host's variables, with its defaults, and the checks on it.

Every setting is read through a `Values` (Ansible-rendered, one variable at a time): a variable set
in the inventory wins, then the profile's derivation (profiles.py), then etcdops' default. Every
problem is one InventoryError naming the file (and line), the host and the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from etcdops.errors import InventoryError
from etcdops.inventory import sshconfig
from etcdops.inventory.model import EtcdConfig, Host
from etcdops.inventory.profiles import PROFILES, detect, profile_defaults
from etcdops.templating import LazySecret, Secret

SECRET_VARS = {"etcd_password", "ansible_password", "ansible_become_password", "ansible_ssh_pass"}
MISSING = object()
ENV_NAME = re.compile(r"^(ETCD|ETCDCTL)_[A-Z0-9_]+$")
SSH_ARGS_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")  # UserKnownHostsFile


class Values(Protocol):
    """One host's variables, rendered on demand."""

    host: str
    path: str  # the inventory, named by errors about a variable it does not set

    def has(self, key: str) -> bool: ...

    def get(self, key: str, default: Any = None) -> Any: ...

    def where(self, key: str) -> str: ...

    def keys(self) -> list[str]: ...


class Resolved:
    """A host's settings: the inventory's own value, else the profile's, else the default."""

    def __init__(self, values: Values, groups: Mapping[str, tuple[str, ...]]) -> None:
        self.values = values
        self.host = values.host
        self.profile = str(detect(self._user, dict(groups)))
        if self.profile not in PROFILES:
            raise InventoryError(
                values.where("etcdops_profile"),
                f"{self.host}.etcdops_profile",
                f"unknown profile {self.profile!r} (one of {', '.join(PROFILES)})",
            )
        self.address = str(self._user("ansible_host", None) or self.host)
        self._profile = profile_defaults(
            self.profile, self.host, self._user, dict(groups), self.address
        )
        self.used: dict[str, Any] = {}  # what was read, for the cache

    def _user(self, key: str, default: Any) -> Any:
        return self.values.get(key, default) if self.values.has(key) else default

    def get(self, key: str, default: Any = None) -> Any:
        if self.values.has(key):
            value = self.values.get(key)
        elif key in self._profile:
            value = self._profile[key]
        else:
            value = default
        if key == "etcd_env" and self.values.has(key) and "etcd_env" in self._profile:
            value = {**self._profile["etcd_env"], **(value or {})}  # the inventory's lines win
        self.used[key] = value
        return value

    def has(self, key: str) -> bool:
        return self.values.has(key) or key in self._profile

    def where(self, key: str) -> str:
        if self.values.has(key):
            return self.values.where(key)
        if key in self._profile:
            return f"the {self.profile} profile (etcdops/inventory/profiles.py)"
        else:
            return self.values.path


def build_host(
    values: Values,
    groups: Mapping[str, tuple[str, ...]],
    host_groups: tuple[str, ...],
    lazy_vars: Mapping[str, Any],
) -> tuple[Host, dict[str, Any]]:
    """The Host etcdops works with, and the settings it read (for the cache)."""
    r = Resolved(values, groups)
    name = r.host
    port = _int(r.get("ansible_port", 22), r.where("ansible_port"), f"{name}.ansible_port")
    wants_etcd = "etcd" in host_groups or r.has("etcd_peer_url")
    etcd = _etcd_config(r) if wants_etcd else None
    known = sshconfig.resolve(
        _opt(r.get("etcdops_known_hosts")),
        [(v, str(r.get(v, None) or "")) for v in SSH_ARGS_VARS],
    )
    host = Host(
        name=name,
        address=r.address,
        port=port,
        user=str(r.get("ansible_user", None) or os.environ.get("USER", "root")),
        groups=host_groups,
        vars=lazy_vars,
        key_file=_opt(r.get("ansible_ssh_private_key_file")),
        become=_bool(
            r.get("ansible_become", False), r.where("ansible_become"), f"{name}.ansible_become"
        ),
        become_user=str(r.get("ansible_become_user", None) or "root"),
        jump=_opt(r.get("etcdops_jump_host")),
        known_hosts=known.path,
        known_hosts_source=known.source,
        known_hosts_note=known.ignored,
        lock_file=_opt(r.get("etcdops_lock_file")),
        etcd=etcd,
        profile=r.profile,
    )
    r.used["ansible_host"] = r.address
    return host, r.used


def _etcd_config(r: Resolved) -> EtcdConfig:
    name = r.host
    for required in ("etcd_peer_url", "etcd_client_url"):
        if not r.get(required):
            raise InventoryError(
                r.where(required),
                f"{name}.{required}",
                "required variable is missing (or set etcdops_profile: kubespray|kubeadm)",
            )
    peer = _url(str(r.get("etcd_peer_url")), r.where("etcd_peer_url"), f"{name}.etcd_peer_url")
    client = _url(
        str(r.get("etcd_client_url")), r.where("etcd_client_url"), f"{name}.etcd_client_url"
    )
    service = str(r.get("etcd_service_name", None) or "etcd")
    systemctl = "systemctl {} " + service
    quota = r.get("etcd_quota_backend_bytes")
    listen = tuple(
        u
        for key in ("etcd_listen_client_urls", "etcd_listen_peer_urls")
        for u in str(r.get(key) or "").split(",")
        if u.strip()
    )
    password = r.get("etcd_password")
    return EtcdConfig(
        name=str(r.get("etcd_name", None) or name),
        peer_url=peer,
        client_url=client,
        data_dir=_path(str(r.get("etcd_data_dir", None) or "/var/lib/etcd")),
        wal_dir=_opt(r.get("etcd_wal_dir")),
        env_file=_path(str(r.get("etcd_env_file", None) or "/etc/etcd/etcd.env")),
        bin_dir=_path(str(r.get("etcd_bin_dir", None) or "/usr/local/bin")).rstrip("/") or "/",
        start_cmd=_command(r.get("etcd_start_cmd", None) or systemctl.format("start")),
        stop_cmd=_command(r.get("etcd_stop_cmd", None) or systemctl.format("stop")),
        restart_cmd=_command(r.get("etcd_restart_cmd", None) or systemctl.format("restart")),
        status_cmd=_command(
            r.get("etcd_status_cmd", None) or systemctl.format("is-active --quiet")
        ),
        cacert=_opt(r.get("etcd_cacert")),
        cert=_opt(r.get("etcd_cert")),
        key=_opt(r.get("etcd_key")),
        user=_opt(r.get("etcd_user")),
        password=_secret(password, r.where("etcd_password"), f"{name}.etcd_password")
        if password
        else None,
        quota_backend_bytes=(
            _int(quota, r.where("etcd_quota_backend_bytes"), f"{name}.etcd_quota_backend_bytes")
            if quota not in (None, "")
            else None
        ),
        env=_env_settings(r.get("etcd_env"), r.where("etcd_env"), f"{name}.etcd_env"),
        listen_urls=tuple(
            _url(u.strip(), r.where("etcd_listen_client_urls"), f"{name}.etcd_listen_*_urls")
            for u in listen
        ),
    )


def _command(value: Any) -> str:
    """A command the inventory owns; its program path is normalised like any path."""
    program, _, rest = str(value).partition(" ")
    return f"{_path(program)} {rest}".rstrip()


def _secret(value: Any, file: str, key: str) -> Secret:
    if isinstance(value, LazySecret):
        return value  # from the cache: rendered by Ansible when first used
    text = value.reveal() if isinstance(value, Secret) else str(value)
    if "\n" in text or "\0" in text:
        raise InventoryError(file, key, "must be one line")
    return Secret(text)


def _env_settings(value: Any, file: str, key: str) -> dict[str, str]:
    """etcd_env: {ETCD_SETTING: value} written into a joining host's etcd.env (TLS files, ...)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise InventoryError(
            file, key, "must be a mapping of ETCD_* (or ETCDCTL_*) settings to values"
        )
    settings = {}
    for name, setting in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise InventoryError(
                file,
                f"{key}.{name}",
                "not an etcd setting (ETCD_ or ETCDCTL_, capitals, digits, _)",
            )
        if isinstance(setting, (dict, list)) or setting is None or "\n" in str(setting):
            raise InventoryError(file, f"{key}.{name}", "must be one line of text")
        settings[name] = str(setting).lower() if isinstance(setting, bool) else str(setting)
    return settings


def _url(value: str, file: str, key: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise InventoryError(file, key, f"not a valid URL: {value!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise InventoryError(file, key, f"not a valid URL: {value!r} (want http(s)://HOST:PORT)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InventoryError(file, key, f"not a valid URL: {value!r} (only scheme, host and port)")
    return f"{parts.scheme}://{parts.netloc}"


def _int(value: Any, file: str, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InventoryError(file, key, f"expected an integer, got {value!r}") from None


def _bool(value: Any, file: str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("yes", "true", "1", "on"):
        return True
    if str(value).lower() in ("no", "false", "0", "off"):
        return False
    raise InventoryError(file, key, f"expected true or false, got {value!r}")


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else _path(str(value))


def _path(text: str) -> str:
    """An absolute path written with `..` (`{{ inventory_dir }}/../x`) as the path it names."""
    return os.path.normpath(text) if text.startswith("/") and "://" not in text else text


class LazyVars(Mapping[str, Any]):
    """A host's variables for runbook templates (`host.some_var`), each rendered by Ansible when
    read; secret ones as Secret (printed as ***)."""

    def __init__(self, values: Callable[[], Values]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        values = self._values()
        if not values.has(key):
            raise KeyError(key)
        value = values.get(key)
        return Secret(value) if key in SECRET_VARS and value is not None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values().keys())

    def __len__(self) -> int:
        return len(self._values().keys())
