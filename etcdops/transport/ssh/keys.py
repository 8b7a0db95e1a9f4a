"""Host keys and the identity: known_hosts and the private key parsed once per process while
unchanged, a client that knows one host's keys and nothing else (RejectPolicy), and OpenSSH's
fingerprints for what a host offered."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import paramiko

_PARSED: dict[tuple[str, str], tuple[tuple[int, int, int], object]] = {}
_PARSED_LOCK = threading.Lock()
T = TypeVar("T")


def _parsed(path: str, load: Callable[[str], T]) -> T:
    """A file parsed once per process while it is unchanged (mtime, size, inode): known_hosts and
    the private key, which paramiko would parse again for every connection (all of known_hosts)."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _PARSED_LOCK:
        found = _PARSED.get((path, load.__name__))
        if found is None or found[0] != stamp:
            found = (stamp, load(path))
            _PARSED[(path, load.__name__)] = found
        return found[1]  # type: ignore[return-value]


def load_host_keys(path: str) -> paramiko.HostKeys:
    return paramiko.HostKeys(path)


def _load_private_key(path: str) -> paramiko.PKey | None:
    try:
        return paramiko.PKey.from_path(path)
    # TypeError: cryptography's "password-protected"
    except (
        paramiko.SSHException,
        OSError,
        ValueError,
        TypeError,
    ):
        return (
            None  # encrypted, or a type paramiko reads otherwise: paramiko's own connect reads it
        )


def private_key(path: str | None) -> paramiko.PKey | None:
    """The inventory's key file, parsed once; None where paramiko should read it itself (no key
    file, one it cannot parse here, or one with an OpenSSH certificate beside it, which connect
    loads)."""
    if path is None or not os.path.isfile(path) or os.path.exists(path + "-cert.pub"):
        return None
    return _parsed(path, _load_private_key)


def client_for(known_hosts: str, address: str, port: int) -> paramiko.SSHClient:
    """A client that knows this host's keys from known_hosts and nothing else (RejectPolicy)."""
    client = paramiko.SSHClient()
    if os.path.exists(known_hosts):
        name = address if port == 22 else f"[{address}]:{port}"  # as paramiko looks it up
        for keytype, key in (_parsed(known_hosts, load_host_keys).lookup(name) or {}).items():
            client.get_host_keys().add(name, keytype, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def fingerprint(key: paramiko.PKey | None) -> str:
    """SHA256:base64 as OpenSSH prints it (ssh-keygen -lf), and the key type."""
    if key is None:
        return "?"
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


def offered_fingerprint(client: paramiko.SSHClient) -> str:
    try:
        transport = client.get_transport()
        return fingerprint(transport.get_remote_server_key()) if transport is not None else "?"
    except (paramiko.SSHException, OSError, EOFError):
        return "?"
