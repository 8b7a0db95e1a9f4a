"""SSHTransport's connection attempts, against a loopback socket that accepts and never answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from etcdops.errors import ConnectError
from etcdops.inventory.model import Host
from etcdops.transport.ssh import SSHTransport


@pytest.fixture
def silent() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP port on 127.0.0.1 that accepts connections and never sends an SSH banner."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=5)
    for s in [*accepted, server]:
        s.close()


def _transport(port: int, tmp_path) -> SSHTransport:  # type: ignore[no-untyped-def]
    host = Host(
        name="silent",
        address="127.0.0.1",
        port=port,
        user="root",
        groups=("spares",),
        vars={},
        known_hosts=str(tmp_path / "known_hosts"),
    )
    return SSHTransport(host, connect_timeout=1.0)


def test_a_caller_waiting_for_a_failed_attempt_gets_its_error_without_a_second_attempt(
    silent, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    port, accepted = silent
    transport = _transport(port, tmp_path)
    errors: list[BaseException] = []

    def early() -> None:  # what Prepared.plan does for a host param while facts are read
        try:
            transport.connect()
        except ConnectError as exc:
            errors.append(exc)

    first = threading.Thread(target=early)
    first.start()
    time.sleep(0.3)  # the first attempt is under way (it waits 1 s for the banner)
    with pytest.raises(ConnectError) as caught:
        transport.run("true", timeout=5)
    first.join(timeout=10)
    assert errors and caught.value is errors[0]
    assert len(accepted) == 1  # one connection: the waiting caller did not try again


def test_a_later_caller_tries_again(silent, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port, accepted = silent
    transport = _transport(port, tmp_path)
    for _ in range(2):
        with pytest.raises(ConnectError):
            transport.connect()
    assert len(accepted) == 2  # a failure is not remembered for callers that come after it


class _QuickCommand:
    """A channel whose command's last output and the channel's close arrive together, right after
    the
    reader found its buffers empty: the order a quick command's end can take on a busy machine."""

    def __init__(self) -> None:
        self.closed = False
        self.eof_received = False
        self._out = b""
        self._polls = 0

    def _arrive(self) -> None:
        self._polls += 1
        if (
            self._polls == 2
        ):  # after the first look found nothing: the output, EOF, exit status and close
            self._out, self.eof_received, self.closed = b"done\n", True, True

    def recv_ready(self) -> bool:
        self._arrive()
        return bool(self._out)

    def recv(self, n: int) -> bytes:
        out, self._out = self._out[:n], self._out[n:]
        return out

    def recv_stderr_ready(self) -> bool:
        return False

    def exit_status_ready(self) -> bool:
        return self.closed

    def recv_exit_status(self) -> int:
        return 0

    def close(self) -> None:
        pass


def test_output_that_arrives_with_the_close_is_read_not_taken_for_a_lost_connection(
    tmp_path,
) -> None:  # type: ignore[no-untyped-def]
    transport = _transport(1, tmp_path)
    from etcdops.transport.ssh.remote import Remote

    command = _QuickCommand()
    result = Remote(transport)._collect(command, "etcdctl snapshot save x", 5, None)  # type: ignore[arg-type]
    assert (result.exit_code, result.stdout) == (0, "done\n")


def test_the_tcp_connection_sends_and_acknowledges_at_once() -> None:
    """TCP_NODELAY is on before the SSH handshake starts, and every read asks the kernel to
    acknowledge at once (sshd holds a session's confirmation until its last packets are
    acknowledged: 40 ms of delayed ACK per connection; measured in make bench's status rows)."""
    from etcdops.transport.ssh import connection

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        client = connection._connect_tcp("127.0.0.1", server.getsockname()[1], 5.0)  # noqa: SLF001
        peer, _ = server.accept()
        try:
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            set_after_read = []
            real = client.setsockopt

            def spy(level: int, name: int, value: int) -> None:
                set_after_read.append((level, name, value))
                real(level, name, value)

            client.setsockopt = spy  # type: ignore[method-assign]
            peer.sendall(b"SSH-2.0-test\r\n")
            assert client.recv(64) == b"SSH-2.0-test\r\n"
            assert set_after_read == [(socket.IPPROTO_TCP, connection.QUICKACK, 1)]
        finally:
            peer.close()
            client.close()
    finally:
        server.close()


def test_known_hosts_and_the_key_file_are_parsed_once_while_unchanged(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Parsed for every connection before (known_hosts whole: ~14 ms of CPU per connection with 300
    lines, measured); now once per process, and again as soon as the file changes."""
    import subprocess

    from etcdops.transport.ssh import keys

    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    known = tmp_path / "known_hosts"
    pub = (tmp_path / "id_ed25519.pub").read_text().split()
    known.write_text(f"[127.0.66.1]:2222 {pub[0]} {pub[1]}\n")
    loads: list[str] = []

    def load(path: str) -> object:
        loads.append(path)
        return keys.load_host_keys(path)

    first = keys._parsed(str(known), load)
    assert keys._parsed(str(known), load) is first and len(loads) == 1
    assert (
        first.lookup("[127.0.66.1]:2222") is not None and first.lookup("[127.0.66.2]:2222") is None
    )
    known.write_text(
        known.read_text() + f"[127.0.66.2]:2222 {pub[0]} {pub[1]}\n"
    )  # edited: read again
    again = keys._parsed(str(known), load)
    assert len(loads) == 2 and again.lookup("[127.0.66.2]:2222") is not None
    assert keys.private_key(str(key)) is keys.private_key(str(key)) is not None


def test_a_key_file_paramiko_must_read_itself_is_left_to_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An encrypted key (the agent or a passphrase decides), or one with an OpenSSH certificate
    beside
    it (which paramiko's connect loads with it): connect reads the file, as before."""
    import shutil
    import subprocess

    from etcdops.transport.ssh import keys

    locked = tmp_path / "locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(locked)], check=True
    )
    assert keys.private_key(str(locked)) is None
    certified = tmp_path / "certified"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(certified)], check=True
    )
    assert keys.private_key(str(certified)) is not None
    shutil.copy(
        tmp_path / "certified.pub", tmp_path / "certified-cert.pub"
    )  # stands for a certificate
    assert keys.private_key(str(certified)) is None and keys.private_key(None) is None
