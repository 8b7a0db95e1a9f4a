"""Reading the key a host offers (for `etcdops hosts trust`), comparing it with what a known_hosts
file holds, and adding it there. Reading a key authenticates nothing and runs nothing on the host:
one key exchange, then the connection is closed. A host behind a jump host is read through it, and
only once the jump host's own key is known (the jump connection checks it like any other)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import paramiko

from etcdops.errors import EtcdopsError
from etcdops.inventory import Host
from etcdops.transport.ssh.connection import SSHTransport, _connect_tcp, _parse_jump
from etcdops.transport.ssh.keys import fingerprint, load_host_keys

SCAN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Offered:
    """What one address offered: the known_hosts name it goes under, the key as a known_hosts
    line, its fingerprint; or why it could not be read."""

    name: str  # `address` (port 22) or `[address]:port`, as known_hosts writes it
    key_type: str = ""
    fingerprint: str = ""
    line: str = ""
    error: str = ""


def jump_endpoint(spec: str) -> tuple[str, str, int]:
    """(user, host, port) of an etcdops_jump_host value (`user@bastion:port`)."""
    return _parse_jump(spec)


def known_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def offered_key(host: Host, timeout: float = SCAN_TIMEOUT) -> Offered:
    """The host key the host's sshd offers, read once."""
    name = known_name(host.address, host.port)
    jump: SSHTransport | None = None
    try:
        if host.jump:
            juser, jhost, jport = _parse_jump(host.jump)
            jump = SSHTransport(
                replace(
                    host,
                    name=f"jump host {jhost}",
                    address=jhost,
                    port=jport,
                    user=juser,
                    jump=None,
                ),
                timeout,
            )
            channel = jump.ensure().get_transport()
            assert channel is not None
            sock: object = channel.open_channel(
                "direct-tcpip", (host.address, host.port), ("127.0.0.1", 0), timeout=timeout
            )
        else:
            sock = _connect_tcp(host.address, host.port, timeout)
        transport = paramiko.Transport(sock)  # type: ignore[arg-type]
        try:
            transport.start_client(timeout=timeout)
            key = transport.get_remote_server_key()
        finally:
            transport.close()
    except EtcdopsError as exc:
        return Offered(name, error=str(exc))
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return Offered(name, error=f"cannot read its key: {exc or type(exc).__name__}")
    finally:
        if jump is not None:
            jump.close()
    return Offered(
        name,
        key.get_name(),
        fingerprint(key),
        f"{name} {key.get_name()} {key.get_base64()}",
    )


def known_keys(file: str, name: str) -> dict[str, str]:
    """{key type: fingerprint} that file holds for name (hashed names too), {} if none."""
    if not os.path.isfile(file):
        return {}
    try:
        found: dict[str, paramiko.PKey] = dict(load_host_keys(file).lookup(name) or {})
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise EtcdopsError(f"{file}: cannot read it as known_hosts: {exc}") from None
    return {keytype: fingerprint(key) for keytype, key in found.items()}


def add_known(file: str, lines: list[str]) -> None:
    """Append lines to file (made with mode 600, its folder 700, when absent), flushed to disk."""
    path = Path(file).expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = not path.exists()
    with open(path, "a") as fh:
        if not fresh and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            fh.write("\n")
        fh.write("".join(f"{line}\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())
    if fresh:
        path.chmod(0o600)
