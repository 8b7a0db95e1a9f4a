"""The user's inventory as Ansible itself reads it: ansible-core's InventoryManager (INI, YAML,
directories, ranges, children, inventory plugins and scripts), its VariableManager (group_vars/
host_vars files and directories, ansible_group_priority, every precedence rule) and its Templar
(filters and lookups). Nothing here re-implements Ansible.

A variable is rendered only when etcdops asks for it, so a variable etcdops never reads (one using a
filter from a collection that is not installed, a lookup) can never break loading. ansible-core
costs ~0.5 s to import: it is imported here only, and only when the cache (cache.py) cannot answer.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from etcdops.errors import InventoryError

MISSING = object()
# ansible-core's plugin loader and templating are not thread-safe (a second thread importing an
# inventory plugin while the first does gets a half-initialised module): one lock for all of it
LOCK = threading.RLock()
# never a warning printed by Ansible on our stderr: they are collected and shown with an error
_ENV = {
    "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
}


def locked(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return fn(*args, **kwargs)

    return wrapper


class AnsibleInventory:
    @locked
    def __init__(self, path: Path) -> None:
        for key, value in _ENV.items():
            os.environ.setdefault(key, value)
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.utils.display import Display
        from ansible.vars.manager import VariableManager

        self.path = path
        self.warnings: list[str] = []
        display = Display()
        display.warning = lambda msg, *a, **k: self.warnings.append(str(msg))  # type: ignore[method-assign]
        self._loader = DataLoader()
        try:
            self._inventory = InventoryManager(loader=self._loader, sources=[str(path)])
        except AnsibleError as exc:
            detail = "; ".join(w.splitlines()[0] for w in self.warnings if w.strip()) or str(exc)
            raise InventoryError(
                str(path), "(inventory)", f"Ansible cannot read it: {detail}{_skipped(path)}"
            ) from None
        self._vars = VariableManager(loader=self._loader, inventory=self._inventory)
        self._raw: dict[str, dict[str, Any]] = {}
        self._templars: dict[str, Any] = {}
        self.Error = AnsibleError

    # ----- hosts and groups -------------------------------------------------
    @locked
    def hosts(self) -> list[str]:
        return [h.name for h in self._inventory.get_hosts()]

    @locked
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Every group with all its hosts (children's included), as `ansible-inventory --list` has
        them."""
        return {
            name: tuple(h.name for h in group.get_hosts())
            for name, group in self._inventory.groups.items()
        }

    @locked
    def groups_of(self, host: str) -> tuple[str, ...]:
        return tuple(g.name for g in self._inventory.get_host(host).get_groups() if g.name != "all")

    def sources(self) -> list[str]:
        return list(self._inventory._sources)  # noqa: SLF001 - the sources it parsed

    # ----- variables ----------------------------------------------------------
    @locked
    def raw(self, host: str) -> dict[str, Any]:
        """The host's variables as Ansible merges them, not rendered."""
        if host not in self._raw:
            try:
                self._raw[host] = self._vars.get_vars(
                    host=self._inventory.get_host(host), include_hostvars=True
                )
            except self.Error as exc:
                raise InventoryError(
                    _origin_of_error(exc) or str(self.path), host, _reason(exc)
                ) from None
        return self._raw[host]

    @locked
    def has(self, host: str, key: str) -> bool:
        return key in self.raw(host)

    @locked
    def value(self, host: str, key: str, default: Any = MISSING) -> Any:
        """The variable rendered with Ansible's templating, or default when the host does not have
        it."""
        raw = self.raw(host)
        if key not in raw:
            if default is MISSING:
                raise KeyError(key)
            return default
        try:
            return plain(self._templar(host).template(raw[key]))
        except self.Error as exc:
            raise InventoryError(
                origin(raw[key]) or str(self.path),
                f"{host}.{key}",
                f"cannot be resolved: {_reason(exc)}",
            ) from None

    @locked
    def expression(self, host: str, expr: str, where: str) -> Any:
        """An expression of etcdops' own (a profile's derivation), evaluated with the host's
        variables."""
        from ansible.template import trust_as_template

        try:
            return plain(self._templar(host).evaluate_expression(trust_as_template(expr)))
        except self.Error as exc:
            raise InventoryError(where, host, f"cannot derive {expr!r}: {_reason(exc)}") from None

    @locked
    def origin(self, host: str, key: str) -> str:
        raw = self.raw(host)
        return (origin(raw[key]) if key in raw else "") or str(self.path)

    @locked
    def deterministic(self, host: str) -> bool:
        """True when none of the host's variables can render differently on the next run (no lookup,
        no query, no time, no vault): what etcdops derives from them can be cached."""
        return not any(_volatile(v) for k, v in self.raw(host).items() if k not in _MAGIC)

    def _templar(self, host: str) -> Any:
        if host not in self._templars:
            from ansible.template import Templar

            self._templars[host] = Templar(loader=self._loader, variables=self.raw(host))
        return self._templars[host]


_MAGIC = {
    "groups",
    "group_names",
    "inventory_hostname",
    "inventory_hostname_short",
    "inventory_dir",
    "inventory_file",
    "playbook_dir",
    "omit",
    "hostvars",
    "ansible_playbook_python",
    "ansible_version",
    "ansible_config_file",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "environment",
    "ansible_search_path",
    "ansible_collection_name",
    "ansible_dependent_role_names",
    "ansible_role_names",
    "role_names",
}
_VOLATILE = ("lookup(", "query(", "q(", "now(", "ansible_env", "ansible_facts", "ansible_date_time")


def _volatile(value: Any, depth: int = 0) -> bool:
    if depth > 32:
        return True
    if type(value).__name__ in ("EncryptedString", "AnsibleVaultEncryptedUnicode"):
        return True
    if isinstance(value, str):
        return any(marker in value for marker in _VOLATILE) or "$ANSIBLE_VAULT" in value
    if isinstance(value, Mapping):
        return any(_volatile(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_volatile(v, depth + 1) for v in value)
    return False


def plain(value: Any) -> Any:
    """Ansible's tagged values as plain Python values."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def origin(value: Any) -> str:
    """FILE:LINE a value came from (ansible-core 2.19 tags every value it read with its origin)."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # an ansible-core without data tagging
        return ""
    tag = Origin.get_tag(value)
    if tag is None or not tag.path:
        return ""
    return f"{tag.path}:{tag.line_num}" if tag.line_num else str(tag.path)


def _origin_of_error(exc: BaseException) -> str:
    obj = getattr(exc, "obj", None)
    return origin(obj) if obj is not None else ""


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _skipped(path: Path) -> str:
    """Why a directory reads as empty: files of it that Ansible's configuration skips
    (inventory_ignore_extensions; kubespray's ansible.cfg skips *.ini), and what to pass instead."""
    from ansible import constants

    if not path.is_dir():
        return ""
    exts = tuple(str(e) for e in constants.INVENTORY_IGNORE_EXTS if str(e).strip())
    skipped = sorted(
        f.name
        for f in path.iterdir()
        if f.is_file() and f.suffix == ".ini" and f.name.endswith(exts)
    )
    if not skipped:
        return ""
    config = getattr(constants, "CONFIG_FILE", None) or "Ansible's configuration"
    return (
        f" ({config} sets inventory_ignore_extensions with .ini, as kubespray's ansible.cfg does: "
        f"Ansible skips {', '.join(skipped)} in a directory; name the file: -i {path / skipped[0]})"
    )
