"""SSH with paramiko: one connection per host, host keys verified, sudo, jump host.

The only module that imports paramiko; its errors become ConnectError on the spot.
"""

from __future__ import annotations

import errno
import os
import select
import shlex
import socket
import sys
import threading
import time
from pathlib import Path

if "invoke" not in sys.modules:
    # paramiko.config imports invoke only to run ssh_config's `Match exec`, and etcdops never reads
    # an
    # ssh_config: importing it anyway cost ~90 ms of every etcdops command's start-up (measured)
    sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` raise ImportError
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]
from collections.abc import Callable, Mapping
from typing import TypeVar

import paramiko

from etcdops.errors import (
    CommandTimeout,
    ConnectError,
    HostKeyError,
    Interrupted,
    TransferError,
    first_line,
)
from etcdops.inventory import Host
from etcdops.sha256 import file_sha256, parse_sha256sum
from etcdops.transport import STOP_GRACE, Cancel, Progress, Result, env_prelude, openssh
from etcdops.transport.openssh import Copied

# what a connection that breaks (sshd killed, a reset, a timeout) raises out of paramiko
LOST = (paramiko.SSHException, OSError, EOFError, socket.timeout)

CONNECT_TIMEOUT = 10.0
READ_CHUNK = 65536


_PARSED: dict[tuple[str, str], tuple[tuple[int, int, int], object]] = {}
_PARSED_LOCK = threading.Lock()
T = TypeVar("T")


def _parsed(path: str, load: Callable[[str], T]) -> T:
    """A file parsed once per process while it is unchanged (mtime, size, inode): known_hosts and
    the
    private key were parsed again for every connection (known_hosts whole, every key in it; the key
    file three times), ~3 ms of etcdops' CPU per connection with 7 lines, and linear in the
    lines."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _PARSED_LOCK:
        found = _PARSED.get((path, load.__name__))
        if found is None or found[0] != stamp:
            found = (stamp, load(path))
            _PARSED[(path, load.__name__)] = found
        return found[1]  # type: ignore[return-value]


def _load_host_keys(path: str) -> paramiko.HostKeys:
    return paramiko.HostKeys(path)


def _load_private_key(path: str) -> paramiko.PKey | None:
    try:
        return paramiko.PKey.from_path(path)
    except (
        paramiko.SSHException,
        OSError,
        ValueError,
        TypeError,
    ):  # TypeError: cryptography's "password-protected"
        return (
            None  # encrypted, or a type paramiko reads otherwise: paramiko's own connect reads it
        )


def _private_key(path: str | None) -> paramiko.PKey | None:
    """The inventory's key file, parsed once; None where paramiko should read it itself (no key
    file,
    one it cannot parse here, or one with an OpenSSH certificate beside it, which connect loads)."""
    if path is None or not os.path.isfile(path) or os.path.exists(path + "-cert.pub"):
        return None
    return _parsed(path, _load_private_key)


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
        self._attempts = (
            0  # connection attempts finished so far, and the error of the last, if it failed
        )
        self._error: ConnectError | None = None

    # ----- connection ------------------------------------------------------
    def _known_hosts(self) -> str:
        return self.host.known_hosts or str(Path.home() / ".ssh" / "known_hosts")

    def _new_client(self, address: str, port: int) -> paramiko.SSHClient:
        """A client that knows this host's keys from known_hosts and nothing else (RejectPolicy)."""
        client = paramiko.SSHClient()
        known = self._known_hosts()
        if os.path.exists(known):
            name = address if port == 22 else f"[{address}]:{port}"  # as paramiko looks it up
            for keytype, key in (_parsed(known, _load_host_keys).lookup(name) or {}).items():
                client.get_host_keys().add(name, keytype, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return client

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
                # TCP_NODELAY from the start and every read acknowledged at once (_connect_tcp):
                # measured on the lab, connect, one command and close 123 ms -> 28 ms
                sock = _connect_tcp(address, port, self.connect_timeout)
            key = _private_key(self.host.key_file)
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
            where, known = f"[{address}]:{port}", self._known_hosts()
            offered, expected = _fingerprint(exc.key), _fingerprint(exc.expected_key)
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
                where, known = f"[{address}]:{port}", self._known_hosts()
                offered = _offered(client)
                raise HostKeyError(
                    self.name,
                    (
                        f"UNKNOWN HOST KEY for {where}: it offered {offered}, and {known} has no "
                        "key for it. "
                        f"Add it after checking its fingerprint (ssh-keyscan -p {port} {address})"
                    ),
                    address=where,
                    offered=offered,
                    expected="",
                    known_hosts=known,
                ) from None
            raise ConnectError(self.name, f"SSH to {user}@{address}:{port}: {exc}") from None
        except (TimeoutError, OSError, EOFError) as exc:
            raise ConnectError(self.name, f"SSH to {user}@{address}:{port}: {exc}") from None

    def _ensure(self) -> paramiko.SSHClient:
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
            self._jump = self._new_client(jhost, jport)
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
        client = self._new_client(self.host.address, self.host.port)
        self._connect_one(client, self.host.address, self.host.port, self.host.user, sock)
        self._client = client
        return client

    def connect(self) -> None:
        self._ensure()

    # ----- commands --------------------------------------------------------
    def _wrap(self, command: str) -> str:
        if not self.host.become:
            return command
        return (
            f"sudo -n -u {shlex.quote(self.host.become_user)} -- /bin/sh -c {shlex.quote(command)}"
        )

    def run(
        self,
        command: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cancel: Cancel | None = None,
    ) -> Result:
        client = self._ensure()
        transport = client.get_transport()
        assert transport is not None
        prelude, stdin = env_prelude(env)
        try:
            chan = transport.open_session(timeout=self.connect_timeout)
            chan.exec_command(self._wrap(prelude + command))
            if stdin:
                chan.sendall(
                    stdin
                )  # the secrets: read by the shell's `read` builtin, never an argument
            chan.shutdown_write()
            return self._collect(chan, command, timeout, cancel)
        except LOST as exc:
            raise ConnectError(
                self.name,
                f"lost the connection while running `{first_line(command, 80)}`: {_reason(exc)}",
            ) from None

    def _collect(
        self, chan: paramiko.Channel, command: str, timeout: float, cancel: Cancel | None
    ) -> Result:
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        asked: float | None = None  # when the run was asked to stop
        try:
            while True:
                while chan.recv_ready():
                    out += chan.recv(READ_CHUNK)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(READ_CHUNK)
                # done once the command's exit status and the end of its output are both in (a
                # closed
                # channel has both); what arrived together with the close is still in the buffers,
                # read
                # it first. A closed channel was once taken for a lost connection when the output
                # and
                # the close of a quick command came in between these checks (a CI failure).
                if chan.recv_ready() or chan.recv_stderr_ready():
                    continue
                if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                    break
                if (
                    chan.eof_received
                    and not chan.exit_status_ready()
                    and not self._transport_active()
                ):
                    raise ConnectError(
                        self.name,
                        f"the connection closed while running `{first_line(command, 80)}`",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandTimeout(self.name, command, timeout)
                reason = cancel() if cancel is not None else None
                if reason and asked is None:
                    asked = time.monotonic()
                if asked is not None and time.monotonic() - asked > STOP_GRACE:
                    raise Interrupted(
                        f"{reason}; `{first_line(command, 80)}` was still running on {self.name} "
                        f"after {STOP_GRACE:g}s and was left to finish there"
                    )
                select.select([chan], [], [], min(remaining, 0.5))
            status = chan.recv_exit_status()
            if (
                status == -1
            ):  # the channel closed without an exit status: the connection (or sshd) went away
                raise ConnectError(
                    self.name,
                    f"lost the connection while running `{first_line(command, 80)}` "
                    "(it ended without an exit status: the host's sshd went away?)",
                )
            return Result(status, out.decode(errors="replace"), err.decode(errors="replace"))
        finally:
            chan.close()

    def _transport_active(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    # ----- files -----------------------------------------------------------
    def _sftp(self) -> paramiko.SFTPClient:
        try:
            return self._ensure().open_sftp()
        except LOST as exc:
            raise ConnectError(self.name, f"SFTP: {_reason(exc)}") from None

    def put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        """Upload; with sudo, through a temporary file moved into place by sudo."""
        target = (
            remote_path if not self.host.become else f"/tmp/.etcdops-{os.getpid()}-{time.time_ns()}"
        )
        sftp = self._sftp()
        try:
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
            sftp.put(local_path, target, callback=progress)
        except LOST as exc:
            if (
                self._transport_active()
                and isinstance(exc, OSError)
                and not isinstance(exc, socket.timeout)
            ):
                raise TransferError(
                    self.name, target, _reason(exc)
                ) from None  # the host said no (a full disk)
            raise ConnectError(self.name, f"upload to {remote_path}: {_reason(exc)}") from None
        finally:
            _close_quietly(sftp)
        if self.host.become:
            result = self.run(f"mv {shlex.quote(target)} {shlex.quote(remote_path)}", timeout)
            if not result.ok:
                raise ConnectError(self.name, f"upload to {remote_path}: {result.stderr.strip()}")

    def get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> None:
        sftp = self._sftp()
        try:
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
            sftp.get(remote_path, local_path, callback=progress)
        except OSError as exc:
            if exc.errno in (
                errno.ENOSPC,
                errno.EDQUOT,
                errno.EACCES,
                errno.EROFS,
            ):  # the control node's own disk
                raise TransferError("control", local_path, exc.strerror or str(exc)) from None
            raise ConnectError(self.name, f"download of {remote_path}: {_reason(exc)}") from None
        except LOST as exc:
            raise ConnectError(self.name, f"download of {remote_path}: {_reason(exc)}") from None
        finally:
            _close_quietly(sftp)

    # ----- bulk copies, verified while they stream --------------------------------------
    def stream_put(
        self, local_path: str, remote_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        """Copy to the host with both ends' sha256 computed as the bytes go: through OpenSSH when
        the control node has it (its line rate), else paramiko's SFTP and a sha256sum on the
        host."""
        if openssh.available() and os.path.getsize(local_path) >= openssh.MIN_BYTES:
            # the host key is checked by paramiko first: a changed key is named as such
            self._ensure()
            return self._copier().put(local_path, remote_path, timeout, progress)
        digest = file_sha256(local_path)
        self.put(local_path, remote_path, timeout, progress)
        return Copied(
            digest, self._remote_sha256(remote_path, timeout), os.path.getsize(local_path)
        )

    def stream_get(
        self, remote_path: str, local_path: str, timeout: float, progress: Progress | None = None
    ) -> Copied:
        if openssh.available() and self._size(remote_path, timeout) >= openssh.MIN_BYTES:
            return self._copier().get(remote_path, local_path, timeout, progress)
        want = self._remote_sha256(remote_path, timeout)
        self.get(remote_path, local_path, timeout, progress)
        return Copied(file_sha256(local_path), want, os.path.getsize(local_path))

    def _size(self, path: str, timeout: float) -> int:
        out = self.run(
            f"stat -c %s -- {shlex.quote(path)} 2>/dev/null || echo 0", timeout
        ).stdout.strip()
        return int(out) if out.isdigit() else 0

    def _copier(self) -> openssh.OpenSSHCopier:
        return openssh.OpenSSHCopier(self.host, self._known_hosts(), self._wrap)

    def _remote_sha256(self, path: str, timeout: float) -> str:
        command = f"sha256sum -- {shlex.quote(path)} 2>/dev/null || true"
        return parse_sha256sum(self.run(command, timeout).stdout)

    def read_file(self, path: str, timeout: float) -> str | None:
        q = shlex.quote(path)
        result = self.run(f"if [ -e {q} ]; then cat {q}; else exit 44; fi", timeout)
        if result.exit_code == 44:
            return None
        if not result.ok:
            raise ConnectError(self.name, f"cannot read {path}: {result.stderr.strip()}")
        return result.stdout

    def close(self) -> None:
        with (
            self._lock
        ):  # after a connection attempt under way (Prepared.plan's early one), not during it
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
    wait
    on Nagle's algorithm against delayed ACKs, ~40 ms each (and with _QuickAck on Linux)."""
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


def _fingerprint(key: paramiko.PKey | None) -> str:
    """SHA256:base64 as OpenSSH prints it (ssh-keygen -lf), and the key type."""
    if key is None:
        return "?"
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, EOFError) or not text:
        return f"{type(exc).__name__} (the host's sshd went away?)"
    return text


def _offered(client: paramiko.SSHClient) -> str:
    try:
        transport = client.get_transport()
        return _fingerprint(transport.get_remote_server_key()) if transport is not None else "?"
    except LOST:
        return "?"


def _close_quietly(sftp: paramiko.SFTPClient) -> None:
    try:
        sftp.close()
    except LOST:  # the connection is gone already: the copy's own error says so
        pass
