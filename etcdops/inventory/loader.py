"""Load the user's Ansible inventory as Ansible reads it, into what etcdops works with.

1. Every YAML file of the inventory is checked first, bounded (alias bombs, depth, size) and for
   its syntax, so that a broken file is one error with its line, before Ansible sees it.
2. ansible-core reads the inventory (ansible_source.py): hosts, groups, variables with Ansible's
   precedence; each setting etcdops needs is rendered by Ansible on its own (settings.py), with the
   profile's derivations (profiles.py).
3. What was read is cached (cache.py) when it is safe to: static inventory files only, and no
   variable of the host could render differently next time (no lookup, no vault, no facts). A
   cached load does not import ansible-core (~0.5 s); a secret (etcd_password) is never cached
   and is rendered by Ansible when first used.

Every problem is one InventoryError(file, host.key, reason), before any connection.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

from etcdops import paths
from etcdops.errors import InventoryError
from etcdops.inventory import cache
from etcdops.inventory.model import Host, Inventory
from etcdops.inventory.settings import SECRET_VARS, LazyVars, build_host
from etcdops.limits import LimitError, check_yaml, read_config

YAML_EXTS = (".yml", ".yaml", ".json")
MAX_FILES = 2000


def resolve_inventory(name_or_path: str, root: Path | None = None) -> Path:
    """`prod` means inventories/prod/ under the project root; anything else is a path."""
    candidate = Path(name_or_path)
    base = root or paths.project_root()
    named = base / "inventories" / name_or_path
    if "/" not in name_or_path and named.is_dir():
        return named
    if candidate.is_dir() or candidate.is_file():
        return candidate
    if candidate.exists():  # a FIFO would block the read, /dev/zero would never end
        raise InventoryError(
            name_or_path, "inventory", "not a file or a directory (a FIFO or a device?)"
        )
    raise InventoryError(
        name_or_path, "inventory", f"not found (looked for {named} and ./{name_or_path})"
    )


def inventory_files(path: Path) -> list[Path]:
    """The files that make up the inventory: the sources and their group_vars/host_vars."""
    base = path if path.is_dir() else path.parent
    found = [path] if path.is_file() else []
    for root, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
        if len(found) > MAX_FILES:
            raise InventoryError(
                str(base), "(files)", f"more than {MAX_FILES} files: not an inventory directory?"
            )
    for file in found:  # each is read (checks, digests, Ansible): a FIFO or device never ends
        if file.exists() and not file.is_file():
            raise InventoryError(str(file), "(files)", "not a regular file (a FIFO or a device?)")
    return sorted(set(found))


def _is_vars_file(file: Path, base: Path) -> bool:
    try:
        parts = file.relative_to(base).parts
    except ValueError:
        return False
    return any(p in ("group_vars", "host_vars") for p in parts[:-1])


def _check_files(files: list[Path], base: Path) -> None:
    for file in files:
        if not (_is_vars_file(file, base) or file.suffix in YAML_EXTS):
            continue  # an INI file or a script: Ansible reads it and names its own errors
        if file.suffix not in YAML_EXTS and os.access(file, os.X_OK):
            continue
        try:
            text = read_config(file)
        except (OSError, UnicodeDecodeError, LimitError) as exc:
            raise InventoryError(str(file), "(read)", f"cannot read: {exc}") from None
        try:
            check_yaml(text, str(file))
        except LimitError as exc:
            raise InventoryError(str(file), "(yaml)", f"refused: {exc}") from None
        try:
            yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            try:
                yaml.safe_load(text)
            except RecursionError:
                raise InventoryError(str(file), "(yaml)", "refused: nested too deep") from None
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark
                where = f"{file}:{mark.line + 1}" if mark else str(file)
                raise InventoryError(where, "(yaml)", f"YAML error: {exc.problem}") from None
            except yaml.YAMLError as exc:
                raise InventoryError(str(file), "(yaml)", f"YAML error: {exc}") from None


def load_inventory(path: Path, use_cache: bool = True) -> Inventory:
    path = Path(path)
    files = inventory_files(path)
    _check_files(files, path if path.is_dir() else path.parent)
    key = cache.key(path, files)
    if use_cache:
        cached = cache.load(key, lambda: _Source(path))
        if cached is not None:
            return cached
    source = _Source(path)
    inventory, records, cacheable = source.inventory()
    if use_cache and cacheable:
        cache.save(key, inventory, records, source.profiles)
    return inventory


class _AnsibleValues:
    """One host's variables through Ansible, recording what was asked (for the cache)."""

    def __init__(self, source: Any, host: str) -> None:
        self.source, self.host = source, host
        # the file the host is in
        self.path = str(source.raw(host).get("inventory_file") or source.path)
        self.record: dict[str, Any] = {}

    def has(self, key: str) -> bool:
        present = self.source.has(self.host, key)
        self.record.setdefault(key, cache.Entry(present, None, ""))
        return present

    def get(self, key: str, default: Any = None) -> Any:
        if not self.source.has(self.host, key):
            self.record[key] = cache.Entry(False, None, "")
            return default
        value = self.source.value(self.host, key)
        where = self.source.origin(self.host, key)
        self.record[key] = cache.Entry(
            True, None if key in SECRET_VARS else value, where, secret=key in SECRET_VARS
        )
        return value

    def where(self, key: str) -> str:
        where = self.source.origin(self.host, key)
        entry = self.record.get(key)
        if entry is not None and not entry.where:
            self.record[key] = cache.Entry(entry.present, entry.value, where, entry.secret)
        return where

    def keys(self) -> list[str]:
        return list(self.source.raw(self.host))


class _Source:
    """The inventory through ansible-core, opened once and only when needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ansible: Any = None
        self.profiles: dict[str, str] = {}

    @property
    def ansible(self) -> Any:
        # lazy: ansible-core (~0.5 s to import) only for an inventory that needs it rendered
        from etcdops.inventory.ansible_source import LOCK, AnsibleInventory

        with LOCK:  # several threads may want it at once (a secret revealed while facts are read)
            if self._ansible is None:
                self._ansible = AnsibleInventory(self.path)
            return self._ansible

    def values(self, host: str) -> _AnsibleValues:
        return _AnsibleValues(self.ansible, host)

    def inventory(self) -> tuple[Inventory, dict[str, dict[str, Any]], bool]:
        src = self.ansible
        groups = src.groups()
        if "etcd" not in groups:
            raise InventoryError(
                str(self.path), "etcd", "the inventory has no 'etcd' group (the cluster's members)"
            )
        hosts: dict[str, Host] = {}
        records: dict[str, dict[str, Any]] = {}
        files: dict[str, str] = {}
        cacheable = _static(src)
        for name in src.hosts():
            values = self.values(name)
            files[name] = values.path
            lazy = LazyVars(functools.partial(self.values, name))
            host, _used = build_host(values, groups, src.groups_of(name), lazy)
            hosts[name] = host
            records[name] = values.record
            self.profiles[name] = host.profile
            cacheable = cacheable and src.deterministic(name)
        inventory = Inventory(
            name=self.path.name if self.path.is_dir() else self.path.parent.name,
            path=self.path,
            hosts=hosts,
            groups=groups,
            warnings=tuple(w.splitlines()[0] for w in src.warnings),
            origins=origins_of(records, files),
        )
        check_unique(inventory)
        return inventory, records, cacheable


def origins_of(
    records: dict[str, dict[str, Any]], files: dict[str, str]
) -> dict[tuple[str, str], str]:
    found = {
        (host, key): entry.where
        for host, record in records.items()
        for key, entry in record.items()
        if entry.where
    }
    # the file each host is in
    found.update({(host, "(host)"): file for host, file in files.items()})
    return found


def _static(src: Any) -> bool:
    """Only files Ansible reads as they are: no inventory script, no inventory plugin config."""
    for source in src.sources():
        p = Path(source)
        if p.is_file():
            files = [p]
        elif p.is_dir():
            files = [f for f in p.iterdir() if f.is_file()]
        else:
            files = []
        for f in files:
            if os.access(f, os.X_OK) and f.suffix not in (".yml", ".yaml", ".ini", ".json", ""):
                return False
            if f.suffix in (".yml", ".yaml"):
                try:
                    head = f.read_text()[:4096]
                except OSError:
                    return False
                if "\nplugin:" in "\n" + head:
                    return False
    return True


def check_unique(inv: Inventory) -> None:
    seen: dict[tuple[str, str], str] = {}
    for host in inv.hosts.values():
        if host.etcd is None:
            continue
        for kind, value in (
            ("etcd_name", host.etcd.name),
            ("etcd_peer_url", host.etcd.peer_url),
            ("etcd_client_url", host.etcd.client_url),
        ):
            other = seen.get((kind, value))
            if other:
                where = (
                    inv.origins.get((host.name, kind))
                    or inv.origins.get((host.name, "(host)"))
                    or str(inv.path)
                )
                raise InventoryError(
                    where,
                    f"{host.name}.{kind}",
                    f"duplicate value {value!r} (also used by {other})",
                )
            seen[(kind, value)] = host.name
