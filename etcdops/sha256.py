"""sha256 of files on the control node, and of what `sha256sum` printed on a host."""

from __future__ import annotations

import hashlib

CHUNK = 1 << 20


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_and_trailer(path: str, size: int) -> tuple[str, bool]:
    """(sha256 of the whole file, whether its last 32 bytes are the sha256 of the rest: the
    integrity trailer etcd writes at the end of a snapshot), in one read of the file."""
    whole, body = hashlib.sha256(), hashlib.sha256()
    trailer = b""
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            whole.update(chunk)
            keep = max(0, min(len(chunk), size - 32 - done))
            body.update(chunk[:keep])
            trailer += chunk[keep:]
            done += len(chunk)
    return whole.hexdigest(), len(trailer) == 32 and body.digest() == trailer


def parse_sha256sum(output: str) -> str:
    """The digest `sha256sum FILE` printed, or '' when it printed none."""
    first = output.strip().split()
    return first[0] if first and len(first[0]) == 64 else ""
