"""copyloop: the bulk copy's one pass (move and hash), with real files and pipes, on each of its
paths,
and its text run the way a host runs it (`python3 -I -S -c`)."""

from __future__ import annotations

import ast
import errno
import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from etcdops.transport import copyloop

SIZE = 5 * copyloop.CHUNK + 12345  # several chunks and a short last one


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "blob.bin"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _into_pipe(src: Path) -> tuple[int, bytes, str, list[int]]:
    """copy(file -> pipe) with a reader on the other end: (bytes, what the reader got, the
    sha256, each
    chunk's size)."""
    r, w = os.pipe()
    got = bytearray()

    def read() -> None:
        while chunk := os.read(r, 1 << 16):
            got.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    digest, seen = hashlib.sha256(), list[int]()
    try:
        with open(src, "rb", buffering=0) as fh:
            n = copyloop.copy(fh.fileno(), w, digest, seen.append)
    finally:
        os.close(w)
        reader.join(timeout=30)
        os.close(r)
    return n, bytes(got), digest.hexdigest(), seen


def test_file_into_pipe_by_splice_and_tee(blob: tuple[Path, str]) -> None:
    path, want = blob
    assert copyloop._tee() is not None  # noqa: SLF001 - this machine's kernel and Python have both
    n, got, digest, chunks = _into_pipe(path)
    assert (
        n == SIZE == len(got) == sum(chunks) and hashlib.sha256(got).hexdigest() == want == digest
    )


def test_file_into_pipe_without_tee(
    blob: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copyloop, "_tee", lambda: None)  # Python < 3.10 or no ctypes on the host
    path, want = blob
    n, got, digest, chunks = _into_pipe(path)
    assert n == SIZE == sum(chunks) and hashlib.sha256(got).hexdigest() == want == digest


def test_a_file_system_that_refuses_splice_gets_the_plain_loop(
    blob: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def refuse(*args: object) -> int:
        calls.append(args)
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "splice", refuse)
    path, want = blob
    n, got, digest, _ = _into_pipe(path)
    assert calls and n == SIZE and hashlib.sha256(got).hexdigest() == want == digest


def test_a_failure_after_the_first_chunk_is_raised(
    blob: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.splice
    count = [0]

    def fail_later(*args: int) -> int:
        count[0] += 1
        if count[0] > 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(*args)

    monkeypatch.setattr(os, "splice", fail_later)
    path, _ = blob
    with pytest.raises(OSError) as failed:  # never a silent restart that would send the start twice
        _into_pipe(path)
    assert failed.value.errno == errno.EIO


def test_pipe_into_file(blob: tuple[Path, str], tmp_path: Path) -> None:
    path, want = blob
    out = tmp_path / "out.bin"
    feeder = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    assert feeder.stdout is not None
    digest = hashlib.sha256()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        n = copyloop.copy(feeder.stdout.fileno(), fd, digest)
    finally:
        os.close(fd)
        feeder.stdout.close()
        feeder.wait(timeout=30)
    assert n == SIZE and digest.hexdigest() == want == hashlib.sha256(out.read_bytes()).hexdigest()


def test_the_hosts_program_both_ways_and_a_failed_write(
    blob: tuple[Path, str], tmp_path: Path
) -> None:
    """The module's own text, as `python3 -I -S -c` runs it on a host: put (stdin -> PATH, its
    sha256 on
    stdout), get (PATH -> stdout, the sha256 on stderr), and a write that fails names the path
    and the
    marker."""
    path, want = blob
    program = Path(copyloop.__file__).read_text(encoding="utf-8")
    dest = tmp_path / "put.bin"
    with open(path, "rb") as fh:
        put = subprocess.run(
            [sys.executable, "-I", "-S", "-c", program, "put", str(dest), "MARK"],
            stdin=fh,
            capture_output=True,
            timeout=60,
        )
    assert put.returncode == 0 and put.stdout.decode().strip() == want, put.stderr
    assert dest.read_bytes() == path.read_bytes() and (dest.stat().st_mode & 0o777) == 0o600
    got = subprocess.run(
        f'{sys.executable} -I -S -c "$P" get {dest} - | cat',
        shell=True,
        env={"P": program},
        capture_output=True,
        timeout=60,
    )  # stdout a pipe, as under sshd
    assert (
        got.returncode == 0
        and got.stdout == path.read_bytes()
        and got.stderr.decode().strip() == want
    )
    failed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program, "put", str(tmp_path / "no" / "x"), "MARK"],
        input=b"data",
        capture_output=True,
        timeout=60,
    )
    assert (
        failed.returncode == 1
        and failed.stderr.decode() == f"{tmp_path}/no/x: No such file or directory\nMARK\n"
    )


def test_the_hosts_program_is_python_34_syntax() -> None:
    """Hosts run it with whatever python3 they have: no f-strings, annotations or walrus."""
    source = Path(copyloop.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 4))
    assert not [
        n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr | ast.AnnAssign | ast.NamedExpr)
    ]
    assert not [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and (n.returns or any(a.annotation for a in n.args.args))
    ]
