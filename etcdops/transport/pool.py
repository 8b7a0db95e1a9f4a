"""One transport per host, reused across steps; bounded parallel fan-out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from etcdops.inventory import Host, Inventory
from etcdops.transport import Transport
from etcdops.transport.local import CONTROL, LocalTransport

T = TypeVar("T")
DEFAULT_PARALLEL = 8


class Pool:
    def __init__(self, inventory: Inventory, parallel: int = DEFAULT_PARALLEL) -> None:
        self.inventory = inventory
        self.parallel = max(1, parallel)
        self._transports: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def get(self, host_name: str) -> Transport:
        with self._lock:
            if host_name not in self._transports:
                self._transports[host_name] = self._make(host_name)
            return self._transports[host_name]

    def _make(self, host_name: str) -> Transport:
        if host_name == CONTROL:
            return LocalTransport()
        # lazy: paramiko (~0.15 s to import) only where a host is reached over SSH
        from etcdops.transport.ssh import SSHTransport

        return SSHTransport(self.inventory.host(host_name))

    def map(
        self, hosts: Iterable[Host | str], fn: Callable[[str], T], parallel: bool = True
    ) -> dict[str, T | BaseException]:
        """Run fn per host; a result or the exception, per host."""
        names = [h if isinstance(h, str) else h.name for h in hosts]

        def call(name: str) -> T | BaseException:
            try:
                return fn(name)
            except Exception as exc:  # noqa: BLE001 - returned per host, raised by the caller
                return exc

        if not parallel or len(names) <= 1:
            return {n: call(n) for n in names}
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(names))) as pool:
            return dict(zip(names, pool.map(call, names), strict=True))

    def close(self) -> None:
        with self._lock:
            for transport in self._transports.values():
                transport.close()
            self._transports.clear()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
