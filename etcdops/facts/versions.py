"""The installed etcd and etcdctl versions, read once per binary.

`etcd --version` and `etcdctl version` are two Go process starts per member, on every status and
plan: on a wide cluster on busy hosts they are a good part of a facts read. The facts script sends
the stamp (size, mtime and ctime in nanoseconds, inode) of both binaries as the control node last
saw them; when the host's stamp is the same, the host answers `cached` instead of starting them,
and the versions come from .etcdops/cache/facts.json (which keeps the certificates' expiry the
same way, see facts/certs.py). Any change to a binary (an upgrade, a copy over it, a chmod)
changes its ctime, so the next read starts them again. Shell built here, output parsed here.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from etcdops import paths
from etcdops.facts.parse import parse_version
from etcdops.inventory import Host
from etcdops.limits import MAX_BYTES
from etcdops.templating import quote

STAMP = "etcdops-stamp:"
CACHED = "etcdops-cached"
_lock = threading.Lock()


def _path() -> Path:
    return paths.cache_dir() / "facts.json"


def _key(host: Host) -> str:
    assert host.etcd is not None
    return f"{host.name}\0{host.address}\0{host.etcd.etcd}\0{host.etcd.etcdctl}"


def load() -> dict[str, dict[str, str]]:
    """The cache as written, or {} when absent, too big or unreadable (then everything is read
    again)."""
    path = _path()
    try:
        if path.stat().st_size > MAX_BYTES:
            return {}
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# a file's stamp as `stat -L --printf` writes it: size, mtime and ctime in nanoseconds, inode
# (the certificates' cache in facts/certs.py uses the same)
STAMP_FORMAT = "%s:%.9Y:%.9Z:%i"


def stamp_command(host: Host) -> str:
    """Shell printing both binaries' stamp."""
    assert host.etcd is not None
    paths = f"{quote(host.etcd.etcd)} {quote(host.etcd.etcdctl)}"
    return f"stat -L --printf '{STAMP_FORMAT},' {paths} 2>/dev/null"


def linearizable_member_list(host: Host, known: dict[str, dict[str, str]]) -> str | None:
    """The binaries' stamp when the host's etcdctl, as last read, is 3.5 or later, else None.

    etcdctl 3.5+ asks for a linearizable member list (MemberListRequest.linearizable, the same
    ReadIndex through the leader as endpoint health's get); the script uses it for health only
    while the stamp is still this one, so a binary swapped since is never trusted on its cache."""
    seen = known.get(_key(host), {})
    try:
        major, minor = (int(x) for x in (seen.get("etcdctl") or "").split(".")[:2])
    except ValueError:
        return None
    return seen.get("stamp") if (major, minor) >= (3, 5) else None


def section(host: Host, known: dict[str, dict[str, str]], stamped: bool = False) -> str:
    """Shell printing the stamp, then `cached` or both binaries' version text (section body).
    stamped: the script has already put the stamp in $st (the facts script uses it twice)."""
    assert host.etcd is not None
    etcd_bin, ctl = quote(host.etcd.etcd), quote(host.etcd.etcdctl)
    stamp = ":" if stamped else f"st=$({stamp_command(host)})"
    seen = known.get(_key(host), {}).get("stamp")
    run = f"{etcd_bin} --version; {ctl} version"
    if not seen:
        return f'{stamp}; echo "{STAMP} $st"; {run}'
    same = f'if [ "$st" = {quote(seen)} ]; then echo {CACHED}; else {run}; fi'
    return f'{stamp}; echo "{STAMP} $st"; {same}'


def parse(
    host: Host, text: str, known: dict[str, dict[str, str]], fresh: dict[str, dict[str, str]]
) -> tuple[str | None, str | None]:
    """(etcd version, etcdctl version) from the section; what was read fresh goes into fresh."""
    stamp, body, cached = "", [], False
    for line in text.splitlines():
        if line.startswith(STAMP):
            stamp = line[len(STAMP) :].strip()
        elif line.strip() == CACHED:
            cached = True
        else:
            body.append(line)
    key = _key(host)
    if cached and key in known:
        return known[key].get("etcd") or None, known[key].get("etcdctl") or None
    etcd, etcdctl = parse_version("\n".join(body))
    # only a complete answer from two binaries that exist is worth keeping
    if stamp.count(",") == 2 and etcd and etcdctl:
        fresh[key] = {"stamp": stamp, "etcd": etcd, "etcdctl": etcdctl}
    return etcd, etcdctl


def save(known: dict[str, dict[str, str]], fresh: dict[str, dict[str, str]]) -> None:
    """Merge what was fresh into the cache file (atomically; a failure to write only costs
    speed)."""
    if not fresh or all(known.get(k) == v for k, v in fresh.items()):
        return
    path = _path()
    with _lock:
        merged = {**load(), **fresh}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".versions-")
            with os.fdopen(fd, "w") as fh:
                json.dump(merged, fh, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            return
