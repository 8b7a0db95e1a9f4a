"""A cache of what etcdops read from an inventory, so that a command does not import ansible-core
(~0.5 s) when nothing it depends on changed.

Keyed by etcdops' and ansible-core's versions, the inventory's path, every file of it (path and
content) and the ANSIBLE_* environment. Written only when safe (loader.py decides):
static files, no variable that renders differently next time. Secrets are never written: a cached
load renders them through Ansible when first used. The cache lives in .etcdops/cache/ of the
project.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from etcdops import paths
from etcdops.inventory.model import Host, Inventory
from etcdops.inventory.settings import LazyVars, build_host
from etcdops.templating import LazySecret

SCHEMA = 2


@dataclass(frozen=True)
class Entry:
    present: bool
    value: Any
    where: str
    secret: bool = False


def _folder() -> Path:
    return paths.cache_dir()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def key(path: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    h.update(
        f"{SCHEMA}\0{_version('etcdops')}\0{_version('ansible-core')}\0{Path(path).resolve()}\0".encode()
    )
    src = Path(__file__).resolve().parent  # the code that derives the settings is part of the key
    for module in ("settings.py", "profiles.py", "loader.py", "cache.py"):
        h.update(hashlib.sha256((src / module).read_bytes()).digest())
    # by content: a file rewritten within one timestamp tick with the same size counts
    for file in files:
        try:
            h.update(f"{file}\0".encode() + hashlib.sha256(file.read_bytes()).digest())
        except OSError:
            continue
    for name, value in sorted(os.environ.items()):
        if name.startswith("ANSIBLE_") or name == "USER":
            h.update(f"{name}={value}\0".encode())
    return h.hexdigest()[:32]


def save(
    cache_key: str,
    inventory: Inventory,
    records: dict[str, dict[str, Entry]],
    profiles: dict[str, str],
) -> None:
    data = {
        "schema": SCHEMA,
        "name": inventory.name,
        "path": str(inventory.path),
        "warnings": list(inventory.warnings),
        "groups": {g: list(h) for g, h in inventory.groups.items()},
        "hosts": [
            {
                "name": h.name,
                "groups": list(h.groups),
                "profile": profiles.get(h.name, "default"),
                "file": inventory.origins.get((h.name, "(host)"), str(inventory.path)),
                "record": {
                    k: [e.present, e.value, e.where, e.secret] for k, e in records[h.name].items()
                },
            }
            for h in inventory.hosts.values()
        ],
    }
    folder = _folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".inventory-{cache_key}.{os.getpid()}"
        tmp.write_text(json.dumps(data))
        tmp.chmod(0o600)
        tmp.rename(folder / f"inventory-{cache_key}.json")
        for old in sorted(folder.glob("inventory-*.json"), key=lambda p: p.stat().st_mtime)[:-20]:
            old.unlink(missing_ok=True)  # our own cache files: the 20 newest are kept
    except (OSError, TypeError, ValueError):
        return  # a cache that cannot be written is only slower


class _CachedValues:
    def __init__(
        self, host: str, record: dict[str, Entry], source: Callable[[], Any], path: str
    ) -> None:
        self.host, self.record, self._source, self.path = host, record, source, path
        self._live: Any = None

    def _real(self) -> Any:
        if self._live is None:
            self._live = self._source().values(self.host)
        return self._live

    def has(self, key: str) -> bool:
        entry = self.record.get(key)
        return entry.present if entry is not None else self._real().has(key)

    def get(self, key: str, default: Any = None) -> Any:
        entry = self.record.get(key)
        if entry is None:
            return self._real().get(key, default)
        if not entry.present:
            return default
        if entry.secret:
            return LazySecret(lambda: self._real().get(key))
        return entry.value

    def where(self, key: str) -> str:
        entry = self.record.get(key)
        return entry.where if entry is not None and entry.where else self.path

    def keys(self) -> list[str]:
        return list(self._real().keys())


def _live_values(source: Callable[[], Any], host: str) -> Any:
    return source().values(host)


def load(cache_key: str, source: Callable[[], Any]) -> Inventory | None:

    file = _folder() / f"inventory-{cache_key}.json"
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    if data.get("schema") != SCHEMA:
        return None
    opened: list[Any] = []

    def lazy() -> Any:  # ansible-core only if a template reads a variable etcdops did not cache
        if not opened:
            opened.append(source())
        return opened[0]

    groups = {g: tuple(h) for g, h in data["groups"].items()}
    hosts: dict[str, Host] = {}
    origins: dict[tuple[str, str], str] = {}
    for item in data["hosts"]:
        record = {k: Entry(*v) for k, v in item["record"].items()}
        origins.update({(item["name"], k): e.where for k, e in record.items() if e.where})
        values = _CachedValues(item["name"], record, lazy, item.get("file") or data["path"])
        host, _ = build_host(
            values,
            groups,
            tuple(item["groups"]),
            LazyVars(functools.partial(_live_values, lazy, item["name"])),
        )
        hosts[host.name] = host
    return Inventory(
        name=data["name"],
        path=Path(data["path"]),
        hosts=hosts,
        groups=groups,
        warnings=tuple(data.get("warnings") or ()),
        origins=origins,
    )
