"""One pass over a bulk copy's bytes that moves them and hashes them, on either end of the ssh pipe.

This file is also the program a host runs for a bulk copy: its text is sent as `python3 -I -S
-c`, with `put PATH MARKER` (stdin to PATH) or `get PATH MARKER` (PATH to stdout) as arguments.
So it uses the standard library only, and Python 3.4 syntax (no f-strings, no annotations, no
walrus).

From a file into a pipe the bytes are moved by the kernel (splice(2) and tee(2): the page cache's
pages go into the pipe by reference) and read once into user space, for the hash: measured here
on 512 MB, 0.43 CPU-s instead of 0.55 with read and write. Where splice or tee is not there
(Python < 3.10, no ctypes, a kernel or file system that refuses), and from a pipe into a file
(splice would save nothing there: the pages are copied into the page cache either way, measured),
it reads and writes through one reused buffer.
"""

import errno
import os
import stat
import sys

MYPY = False
if MYPY:  # the types, for mypy only: no typing import on the hosts (Python 3.4 has none)
    from typing import Any, Callable, Optional  # noqa: F401

CHUNK = 1 << 20  # Linux's default pipe-max-size: the most one pipe holds
F_SETPIPE_SZ = 1031


def grow(fd):  # type: (int) -> None
    """Let a pipe hold CHUNK (64 KiB by default: 16x the wake-ups of both its ends)."""
    try:
        import fcntl

        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except (ImportError, OSError):
        pass


def _pipe(fd):  # type: (int) -> bool
    return stat.S_ISFIFO(os.fstat(fd).st_mode)


def _tee():  # type: () -> Optional[Callable[[int, int, int], int]]
    """tee(2) through ctypes, if it works here (checked on a byte), else None."""
    if not hasattr(os, "splice"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.tee
        call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
        call.restype = ctypes.c_ssize_t
    except (ImportError, OSError, AttributeError):
        return None

    def tee(src, dst, size):  # type: (int, int, int) -> int
        while True:
            n = call(src, dst, size, 0)
            if n >= 0:
                return n
            err = ctypes.get_errno()
            if err != errno.EINTR:
                raise OSError(err, os.strerror(err))

    a, b = os.pipe()
    c, d = os.pipe()
    try:
        os.write(b, b"x")
        return tee if tee(a, d, 1) == 1 and os.read(c, 1) == b"x" else None
    except OSError:
        return None
    finally:
        for fd in (a, b, c, d):
            os.close(fd)


def copy(src, dst, digest, each=None):  # type: (int, int, Any, Optional[Callable[[int], None]]) -> int
    """Move everything from fd `src` to fd `dst` and hash it into `digest`; `each(n)` after each
    chunk. Returns the number of bytes. OSError as the system said it (a full disk: ENOSPC)."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    tee = _tee() if _pipe(dst) and not _pipe(src) else None
    if tee is not None:  # a file into a pipe: file -splice-> spare pipe -tee-> dst, read the spare
        grow(dst)
        r, w = os.pipe()
        grow(w)
        try:
            while True:
                try:
                    n = os.splice(src, w, CHUNK)
                except OSError as exc:
                    if total or exc.errno not in (errno.EINVAL, errno.ENOSYS):
                        raise
                    break  # this file system does not splice: the plain loop, from the start
                if not n:
                    return total
                while n:
                    k = tee(r, dst, n)
                    got = 0
                    while got < k:
                        got += os.readv(r, [view[got:k]])
                    digest.update(view[:k])
                    n -= k
                    total += k
                    if each is not None:
                        each(k)
        finally:
            os.close(r)
            os.close(w)
    else:
        grow(src if _pipe(src) else dst)
    while True:
        n = os.readv(src, [buf])
        if not n:
            return total
        digest.update(view[:n])
        done = 0
        while done < n:
            done += os.write(dst, view[done:n])
        total += n
        if each is not None:
            each(n)


def main(argv):  # type: (list) -> int
    import hashlib

    mode, path, marker = argv[:3]
    digest = hashlib.sha256()
    try:
        if mode == "put":
            src, dst = 0, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        else:
            src, dst = os.open(path, os.O_RDONLY), 1
        copy(src, dst, digest)
        if mode == "put":
            os.close(dst)
    except OSError as exc:
        tail = marker + "\n" if mode == "put" else ""
        sys.stderr.write("%s: %s\n" % (path, exc.strerror) + tail)
        return 1
    (sys.stdout if mode == "put" else sys.stderr).write(digest.hexdigest() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
