"""One SSH connection to an inventory host, opened lazily and once (a jump host if the inventory
names one), TCP_NODELAY and quick ACKs from the start; host keys checked (keys.py). Commands run
through remote.py, files move through transfer.py."""

from __future__ import annotations

import os
import shlex
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import paramiko

from etcdops.errors import ConnectError, HostKeyError
from etcdops.inventory import Host
from etcdops.transport import Cancel, Progress, Result
from etcdops.transport.openssh import Copied
from etcdops.transport.ssh.keys import client_for, fingerprint, offered_fingerprint, private_key
from etcdops.transport.ssh.remote import Remote
from etcdops.transport.ssh.transfer import Transfer

# what a connection that breaks (sshd killed, a reset, a timeout) raises out of paramiko
LOST = (paramiko.SSHException, OSError, EOFError, socket.timeout)
CONNECT_TIMEOUT = 10.0


def _parse_jump(spec: str) -> tuple[str, str, int]:
    user, _, hostport = spec.rpartition("@")
    host, _, port = hostport.partition(":")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]:")
    return (user or os.environ.get("USER", "root")), host, int(port or 22)


class SSHTransport:
    """A lazily opened SSH connection to one inventory host."""

    def __init__(self, host: Host, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.host = host
        self.name = host.name
        self.connect_timeout = connect_timeout
        self._client: paramiko.SSHClient | None = None
        self._jump: paramiko.SSHClient | None = None
        self._lock = threading.Lock()
        # connection attempts finished so far, and the error of the last, if it failed
        self._attempts = 0
        self._error: ConnectError | None = None

    # ----- connection ------------------------------------------------------
    def known_hosts(self) -> str:
        return self.host.known_hosts or str(Path.home() / ".ssh" / "known_hosts")

    def _source(self) -> str:
        """Where the inventory's known_hosts came from, when not etcdops_known_hosts."""
        source = self.host.known_hosts_source
        return f" ({source})" if source and source != "etcdops_known_hosts" else ""

    def _connect_one(
        self,
        client: paramiko.SSHClient,
        address: str,
        port: int,
        user: str,
        sock: paramiko.Channel | socket.socket | None,
    ) -> None:
        try:
            if sock is None:
                # TCP_NODELAY from the start and every read acknowledged at once (_connect_tcp)
                sock = _connect_tcp(address, port, self.connect_timeout)
            key = private_key(self.host.key_file)
            client.connect(
                address,
                port=port,
                username=user,
                pkey=key,
                key_filename=None if key is not None else self.host.key_file,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                sock=sock,
                allow_agent=True,
                look_for_keys=self.host.key_file is None,
            )
        except paramiko.BadHostKeyException as exc:
            where, known = f"[{address}]:{port}", self.known_hosts()
            offered, expected = fingerprint(exc.key), fingerprint(exc.expected_key)
            raise HostKeyError(
                self.name,
                (
                    f"HOST KEY CHANGED for {where}: it offered {offered}, {known} expects "
                    f"{expected}. This can "
                    "be an attack; if the host was really rebuilt, remove its old line from "
                    f"{known} and add the new key after checking its fingerprint"
                ),
                address=where,
                offered=offered,
                expected=expected,
                known_hosts=known,
            ) from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                where, known = f"[{address}]:{port}", self.known_hosts()
                offered = offered_fingerprint(client)
                raise HostKeyError(
                    self.name,
                    (
                        f"UNKNOWN HOST KEY for {where}: it offered {offered}, and {known}"
                        f"{self._source()} has no key for it. Add it after checking its "
                        "fingerprint: `etcdops hosts trust -i INVENTORY` shows every host's and "
                        "adds the ones you accept"
                    ),
                    address=where,
                    offered=offered,
                    expected="",
                    known_hosts=known,
                ) from None
            raise ConnectError(self.name, f"SSH to {user}@{address}:{port}: {exc}") from None
        except (TimeoutError, OSError, EOFError) as exc:
            raise ConnectError(self.name, f"SSH to {user}@{address}:{port}: {exc}") from None

    def ensure(self) -> paramiko.SSHClient:
        attempts = self._attempts
        with self._lock:
            if self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return self._client
            if self._attempts != attempts and self._error is not None:
                # an attempt made while this caller waited (e.g. Prepared.plan's) failed
                raise self._error
            try:
                self._error = None
                return self._connect()
            except ConnectError as exc:
                self._error = exc
                raise
            finally:
                self._attempts += 1  # counted once finished: a caller that waited for it sees it

    def _connect(self) -> paramiko.SSHClient:
        sock = None
        if self.host.jump:
            juser, jhost, jport = _parse_jump(self.host.jump)
            self._jump = client_for(self.known_hosts(), jhost, jport)
            self._connect_one(self._jump, jhost, jport, juser, None)
            jt = self._jump.get_transport()
            assert jt is not None
            try:
                sock = jt.open_channel(
                    "direct-tcpip",
                    (self.host.address, self.host.port),
                    ("127.0.0.1", 0),
                    timeout=self.connect_timeout,
                )
            except (paramiko.SSHException, OSError) as exc:
                raise ConnectError(
                    self.name, f"through jump host {self.host.jump}: {exc}"
                ) from None
        client = client_for(self.known_hosts(), self.host.address, self.host.port)
        self._connect_one(client, self.host.address, self.host.port, self.host.user, sock)
        self._client = client
        return client

    def connect(self) -> None:
        self.ensure()

    # ----- commands and files: remote.py and transfer.py --------------------------------
    def run(
        self,
        command: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cancel: Cancel | None = None,
    ) -> Result:
        return Remote(self).run(command, timeout, env, cancel)

    def put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        Transfer(self).put(local_path, remote_path, timeout, progress)

    def get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        Transfer(self).get(remote_path, local_path, timeout, progress)

    def stream_put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        return Transfer(self).stream_put(local_path, remote_path, timeout, progress)

    def stream_get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        return Transfer(self).stream_get(remote_path, local_path, timeout, progress)

    def read_file(self, path: str, timeout: float) -> str | None:
        return Transfer(self).read_file(path, timeout)

    def wrap(self, command: str) -> str:
        """The command as the host runs it: through sudo to the inventory's become_user."""
        if not self.host.become:
            return command
        return (
            f"sudo -n -u {shlex.quote(self.host.become_user)} -- /bin/sh -c {shlex.quote(command)}"
        )

    def transport_active(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    def close(self) -> None:
        # after a connection attempt under way (Prepared.plan's early one), not during it
        with self._lock:
            for client in (self._client, self._jump):
                if client is not None:
                    client.close()
            self._client = self._jump = None


QUICKACK = getattr(socket, "TCP_QUICKACK", 12)


class _QuickAck(socket.socket):
    """A TCP socket that acknowledges what it receives at once (Linux's TCP_QUICKACK, which the
    kernel clears again on its own, so it is set after every read). sshd does not set TCP_NODELAY
    on a session without a terminal: after authentication it sends two packets and holds the
    channel's confirmation until they are acknowledged, and delayed ACK makes that 40 ms."""

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = super().recv(size, flags)
        try:
            self.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except OSError:
            pass
        return data


def _connect_tcp(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with TCP_NODELAY from the start: the handshake's small packets otherwise
    wait on Nagle's algorithm against delayed ACKs, ~40 ms each (and with _QuickAck on Linux)."""
    last: OSError | None = None
    for family, kind, proto, _, where in socket.getaddrinfo(address, port, type=socket.SOCK_STREAM):
        sock = (_QuickAck if sys.platform.startswith("linux") else socket.socket)(
            family, kind, proto
        )
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(where)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot resolve {address}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, EOFError) or not text:
        return f"{type(exc).__name__} (the host's sshd went away?)"
    return text
