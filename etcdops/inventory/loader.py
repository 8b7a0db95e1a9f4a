"""Load an Ansible YAML inventory (hosts.yml + group_vars/ + host_vars/).

Validation happens here, once, before any connection: every problem is one
``InventoryError(file, key, reason)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from etcdops.errors import InventoryError
from etcdops.inventory.model import EtcdConfig, Host, Inventory
from etcdops.limits import LimitError, check_yaml
from etcdops.templating import Secret, render_text

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser, where PyYAML has it

GROUP_KEYS = {"hosts", "vars", "children"}
HOSTS_FILES = ("hosts.yml", "hosts.yaml")
VAR_EXTS = (".yml", ".yaml")
SECRET_VARS = {"etcd_password", "ansible_password", "ansible_become_password"}
TEMPLATE_PASSES = 5
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def resolve_inventory(name_or_path: str, root: Path | None = None) -> Path:
    """`prod` means inventories/prod/ under the project root; anything else is a path."""
    candidate = Path(name_or_path)
    base = root or Path(os.environ.get("ETCDOPS_HOME", Path.cwd()))
    named = base / "inventories" / name_or_path
    if "/" not in name_or_path and named.is_dir():
        return named
    if candidate.exists():
        return candidate
    raise InventoryError(name_or_path, "inventory",
                         f"not found (looked for {named} and ./{name_or_path})")


def load_inventory(path: Path) -> Inventory:
    hosts_file = _hosts_file(path)
    data = _read_yaml(hosts_file)
    if not isinstance(data, dict) or not data:
        raise InventoryError(str(hosts_file), "(top)", "expected a mapping of groups such as 'all:'")
    tree = _Tree(str(hosts_file))
    for group_name, body in data.items():
        tree.add_group(str(group_name), body, parent=None)
    inv_dir = hosts_file.parent
    group_files = _var_files(inv_dir / "group_vars")
    host_files = _var_files(inv_dir / "host_vars")
    for group_name, file in group_files.items():
        if group_name not in tree.groups and group_name != "all":
            raise InventoryError(str(file), group_name,
                                 f"unknown group (groups: {', '.join(sorted(tree.groups))})")
    for host_name, file in host_files.items():
        if host_name not in tree.host_vars:
            raise InventoryError(str(file), host_name, "unknown host (not in any group)")
    if "etcd" not in tree.groups:
        raise InventoryError(str(hosts_file), "etcd", "the inventory has no 'etcd' group")
    hosts = {}
    for host_name in tree.host_vars:
        layered = _layered_vars(tree, host_name, group_files, host_files)
        resolved = _template_vars(host_name, layered, inv_dir)
        resolved.origin.setdefault("__hosts_file__", str(hosts_file))
        hosts[host_name] = _build_host(host_name, resolved, tree.groups_of(host_name))
    groups = {g: tuple(tree.hosts_of(g)) for g in tree.groups}
    inv = Inventory(name=path.name, path=path, hosts=hosts, groups=groups)
    _check_unique(inv)
    return inv


def _hosts_file(path: Path) -> Path:
    if path.is_file():
        return path
    for name in HOSTS_FILES:
        if (path / name).is_file():
            return path / name
    raise InventoryError(str(path), "hosts.yml", "no hosts.yml in the inventory directory")


def _read_yaml(file: Path) -> Any:
    try:
        text = file.read_text()
        try:
            check_yaml(text, str(file))
        except LimitError as exc:
            raise InventoryError(str(file), "(yaml)", f"refused: {exc}") from None
        try:
            return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            return yaml.safe_load(text)  # pure Python again, for its error positions (libyaml's differ)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        raise InventoryError(where, "(yaml)", f"YAML error: {exc.problem}") from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise InventoryError(str(file), "(yaml)", f"cannot read: {exc}") from None


def _var_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for file in sorted(folder.iterdir()):
        if file.suffix in VAR_EXTS and file.is_file():
            found[file.stem] = file
        elif file.is_dir():
            raise InventoryError(str(file), file.name, "directories of vars are not supported")
    return found


class _Vars(dict[str, Any]):
    """Variables plus the file each one came from."""

    def __init__(self) -> None:
        super().__init__()
        self.origin: dict[str, str] = {}

    def layer(self, values: Mapping[str, Any] | None, file: str, key: str) -> None:
        if values is None:
            return
        if not isinstance(values, Mapping):
            raise InventoryError(file, key, "expected a mapping of variables")
        for name, value in values.items():
            if not isinstance(name, str) or not VAR_NAME.match(name):
                raise InventoryError(file, f"{key}.{name}", "not a valid variable name")
            self[name] = value
            self.origin[name] = file


class _Tree:
    def __init__(self, file: str) -> None:
        self.file = file
        self.groups: dict[str, dict[str, Any]] = {}
        self.parents: dict[str, list[str]] = {}
        self.direct_hosts: dict[str, list[str]] = {}
        self.host_vars: dict[str, dict[str, Any]] = {}

    def add_group(self, name: str, body: Any, parent: str | None) -> None:
        key = f"{parent}.children.{name}" if parent else name
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise InventoryError(self.file, key, "a group must be a mapping (hosts, vars, children)")
        unknown = set(body) - GROUP_KEYS
        if unknown:
            raise InventoryError(self.file, f"{key}.{sorted(unknown)[0]}",
                                 "unknown key in a group (expected hosts, vars or children)")
        self.groups.setdefault(name, {}).update(body.get("vars") or {})
        self.parents.setdefault(name, [])
        if parent and parent not in self.parents[name]:
            self.parents[name].append(parent)
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise InventoryError(self.file, f"{key}.hosts", "expected a mapping of host names")
        for host, host_vars in hosts.items():
            host = str(host)
            if host_vars is not None and not isinstance(host_vars, dict):
                raise InventoryError(self.file, f"{key}.hosts.{host}", "host vars must be a mapping")
            self.direct_hosts.setdefault(name, []).append(host)
            self.host_vars.setdefault(host, {}).update(host_vars or {})
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise InventoryError(self.file, f"{key}.children", "expected a mapping of groups")
        for child, child_body in children.items():
            self.add_group(str(child), child_body, parent=name)

    def ancestors(self, group: str, seen: set[str] | None = None) -> list[str]:
        seen = seen if seen is not None else set()
        order: list[str] = []
        for parent in self.parents.get(group, []):
            if parent not in seen:
                seen.add(parent)
                order.extend(self.ancestors(parent, seen))
                order.append(parent)
        return order

    def groups_of(self, host: str) -> tuple[str, ...]:
        direct = [g for g, hs in self.direct_hosts.items() if host in hs]
        ordered: list[str] = []
        for group in direct:
            for g in [*self.ancestors(group), group]:
                if g not in ordered:
                    ordered.append(g)
        return tuple(g for g in ordered if g != "all")

    def hosts_of(self, group: str) -> list[str]:
        result = list(self.direct_hosts.get(group, []))
        for child, parents in self.parents.items():
            if group in parents:
                result.extend(h for h in self.hosts_of(child) if h not in result)
        if group == "all":
            result.extend(h for h in self.host_vars if h not in result)
        return result


def _layered_vars(tree: _Tree, host: str, group_files: dict[str, Path],
                  host_files: dict[str, Path]) -> _Vars:
    merged = _Vars()
    for group in ["all", *tree.groups_of(host)]:
        merged.layer(tree.groups.get(group), tree.file, f"{group}.vars")
        if group in group_files:
            merged.layer(_read_yaml(group_files[group]), str(group_files[group]), group)
    merged.layer(tree.host_vars[host], tree.file, f"hosts.{host}")
    if host in host_files:
        merged.layer(_read_yaml(host_files[host]), str(host_files[host]), host)
    return merged


def _template_vars(host: str, merged: _Vars, inv_dir: Path) -> _Vars:
    """Resolve ``{{ var }}`` references between variables, as Ansible does lazily."""
    magic = {"inventory_hostname": host, "inventory_dir": str(inv_dir.resolve())}
    current = _Vars()
    current.update(merged)
    current.origin = merged.origin
    for _ in range(TEMPLATE_PASSES):
        changed = False
        for name, value in list(current.items()):
            if _unresolved(value):
                rendered = _render_value(value, {**current, **magic}, current.origin.get(name, "?"), name)
                changed = changed or rendered != value
                current[name] = rendered
        if not changed:
            break
    for name, value in current.items():
        if _unresolved(value):
            raise InventoryError(current.origin.get(name, "?"), name,
                                 "variable references do not resolve (a cycle?)")
    return current


def _unresolved(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_unresolved(v) for v in value.values())
    if isinstance(value, list):
        return any(_unresolved(v) for v in value)
    return isinstance(value, str) and "{{" in value


def _render_value(value: Any, context: dict[str, Any], file: str, key: str) -> Any:
    """Strings are rendered; mappings and lists (etcd_env) value by value."""
    if isinstance(value, dict):
        return {k: _render_value(v, context, file, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, context, file, key) for v in value]
    return _render_var(value, context, file, key) if isinstance(value, str) and "{{" in value else value


def _render_var(value: str, context: dict[str, Any], file: str, key: str) -> str:
    try:
        rendered = render_text(value, context)
    except Exception as exc:  # noqa: BLE001 - any template failure is bad input here
        raise InventoryError(file, key, f"cannot resolve: {exc}") from None
    return os.path.normpath(rendered) if rendered.startswith("/") and "://" not in rendered else rendered


def _build_host(name: str, v: _Vars, groups: tuple[str, ...]) -> Host:
    def where(key: str) -> str:
        return v.origin.get(key, v.origin["__hosts_file__"])

    port = _int(v.get("ansible_port", 22), where("ansible_port"), "ansible_port")
    etcd = _etcd_config(name, v, where) if ("etcd" in groups or "etcd_peer_url" in v) else None
    return Host(
        name=name,
        address=str(v.get("ansible_host", name)),
        port=port,
        user=str(v.get("ansible_user", os.environ.get("USER", "root"))),
        groups=groups,
        vars={k: (Secret(val) if k in SECRET_VARS else val) for k, val in v.items()},
        key_file=_opt(v.get("ansible_ssh_private_key_file")),
        become=_bool(v.get("ansible_become", False), where("ansible_become"), "ansible_become"),
        become_user=str(v.get("ansible_become_user", "root")),
        jump=_opt(v.get("etcdops_jump_host")),
        known_hosts=_opt(v.get("etcdops_known_hosts")),
        etcd=etcd,
    )


def _etcd_config(name: str, v: _Vars, where: Any) -> EtcdConfig:
    for required in ("etcd_peer_url", "etcd_client_url"):
        if not v.get(required):
            raise InventoryError(where(required), f"{name}.{required}",
                                 "required variable is missing")
    peer = _url(str(v["etcd_peer_url"]), where("etcd_peer_url"), f"{name}.etcd_peer_url")
    client = _url(str(v["etcd_client_url"]), where("etcd_client_url"), f"{name}.etcd_client_url")
    service = str(v.get("etcd_service_name", "etcd"))
    systemctl = "systemctl {} " + service
    quota = v.get("etcd_quota_backend_bytes")
    return EtcdConfig(
        name=str(v.get("etcd_name", name)),
        peer_url=peer,
        client_url=client,
        data_dir=str(v.get("etcd_data_dir", "/var/lib/etcd")),
        wal_dir=_opt(v.get("etcd_wal_dir")),
        env_file=str(v.get("etcd_env_file", "/etc/etcd/etcd.env")),
        bin_dir=str(v.get("etcd_bin_dir", "/usr/local/bin")).rstrip("/") or "/",
        start_cmd=str(v.get("etcd_start_cmd", systemctl.format("start"))),
        stop_cmd=str(v.get("etcd_stop_cmd", systemctl.format("stop"))),
        restart_cmd=str(v.get("etcd_restart_cmd", systemctl.format("restart"))),
        status_cmd=str(v.get("etcd_status_cmd", systemctl.format("is-active --quiet"))),
        cacert=_opt(v.get("etcd_cacert")),
        cert=_opt(v.get("etcd_cert")),
        key=_opt(v.get("etcd_key")),
        user=_opt(v.get("etcd_user")),
        password=Secret(v["etcd_password"]) if v.get("etcd_password") else None,
        quota_backend_bytes=(_int(quota, where("etcd_quota_backend_bytes"), "etcd_quota_backend_bytes")
                             if quota is not None else None),
        env=_env_settings(v.get("etcd_env"), where("etcd_env"), f"{name}.etcd_env"),
    )


ENV_NAME = re.compile(r"^ETCD_[A-Z0-9_]+$")


def _env_settings(value: Any, file: str, key: str) -> dict[str, str]:
    """etcd_env: {ETCD_SETTING: value} written into a joining host's etcd.env (TLS files, ...)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InventoryError(file, key, "must be a mapping of ETCD_* settings to values")
    settings = {}
    for name, setting in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise InventoryError(file, f"{key}.{name}", "not an etcd setting (ETCD_ and capitals, digits, _)")
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
    if str(value).lower() in ("yes", "true", "1"):
        return True
    if str(value).lower() in ("no", "false", "0"):
        return False
    raise InventoryError(file, key, f"expected true or false, got {value!r}")


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _check_unique(inv: Inventory) -> None:
    seen: dict[tuple[str, str], str] = {}
    for host in inv.hosts.values():
        if host.etcd is None:
            continue
        for kind, value in (("etcd_name", host.etcd.name), ("etcd_peer_url", host.etcd.peer_url),
                            ("etcd_client_url", host.etcd.client_url)):
            other = seen.get((kind, value))
            if other:
                raise InventoryError(str(_hosts_file(inv.path)), f"{host.name}.{kind}",
                                     f"duplicate value {value!r} (also used by {other})")
            seen[(kind, value)] = host.name
