"""The facts script's "nothing listens there" check, run as the script runs it, against real
sockets."""

from __future__ import annotations

import socket
import subprocess

import pytest

from etcdops.facts.script import _not_listening


def _says_not_listening(url: str) -> bool:
    return subprocess.run(["sh", "-c", _not_listening(url)[1]], timeout=30).returncode == 0


@pytest.mark.parametrize(
    "bind", ["127.0.0.1", "0.0.0.0"], ids=["on the address", "on the wildcard"]
)
def test_only_a_listener_counts(bind: str) -> None:
    server = socket.socket()
    server.bind((bind, 0))
    url = f"https://127.0.0.1:{server.getsockname()[1]}"
    try:
        assert _says_not_listening(url)  # bound, not listening
        server.listen(1)
        assert not _says_not_listening(url)
        client = socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=5)
        peer, _ = server.accept()
        server.close()  # the connection stays, established: not a listener
        assert _says_not_listening(url)
        peer.close()
        client.close()
    finally:
        server.close()


def test_a_host_name_is_left_to_etcdctl() -> None:
    assert _not_listening("https://etcd1.example:2379") == ("port 2379", "false")
