"""Parsers for `etcdctl -w json` / `etcdutl -w json` output. No I/O."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from etcdops.facts.model import Alarm, EndpointStatus, Member


class ParseError(ValueError):
    pass


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{what}: not JSON ({exc.msg} at {exc.pos}): {text[:120]!r}") from None


def parse_member_list(text: str) -> tuple[int, list[Member]]:
    data = _load(text, "member list")
    members = [
        Member(
            id=int(m["ID"]),
            name=m.get("name", ""),
            peer_urls=tuple(m.get("peerURLs") or ()),
            client_urls=tuple(m.get("clientURLs") or ()),
            is_learner=bool(m.get("isLearner", False)),
        )
        for m in data.get("members") or []
    ]
    return int(data["header"]["cluster_id"]), members


def parse_endpoint_status(text: str) -> list[EndpointStatus]:
    data = _load(text, "endpoint status")
    return [parse_status(entry["Endpoint"], entry["Status"]) for entry in data]


def parse_status(endpoint: str, s: dict[str, Any]) -> EndpointStatus:
    header = s.get("header", {})
    return EndpointStatus(
        endpoint=endpoint,
        cluster_id=int(header.get("cluster_id", 0)),
        member_id=int(header.get("member_id", 0)),
        version=s.get("version", ""),
        db_size=int(s.get("dbSize", 0)),
        db_size_in_use=int(s.get("dbSizeInUse", s.get("dbSize", 0))),
        leader=int(s.get("leader", 0)),
        raft_term=int(s.get("raftTerm", header.get("raft_term", 0))),
        raft_index=int(s.get("raftIndex", 0)),
        applied_index=int(s.get("raftAppliedIndex", s.get("raftIndex", 0))),
        revision=int(header.get("revision", 0)),
        is_learner=bool(s.get("isLearner", False)),
        errors=tuple(s.get("errors") or ()),
    )


def parse_endpoint_health(text: str) -> dict[str, tuple[bool, str | None]]:
    data = _load(text, "endpoint health")
    return {e["endpoint"]: (bool(e.get("health")), e.get("error")) for e in data}


_ALARM = re.compile(r"memberID:(\d+)\s+alarm:([A-Z_]+)")


def parse_status_alarms(errors: tuple[str, ...] | list[str]) -> list[Alarm]:
    """The alarms in endpoint status `errors` (etcd 3.4+ lists every active alarm there, as
    `memberID:ID alarm:NAME`, next to messages such as `etcdserver: no leader`)."""
    return [
        Alarm(member_id=int(m.group(1)), alarm=m.group(2))
        for e in errors
        if (m := _ALARM.search(e))
    ]


@dataclass(frozen=True)
class SnapshotStatus:
    hash: int
    revision: int
    total_keys: int
    total_size: int


def parse_snapshot_status(text: str) -> SnapshotStatus:
    data = _load(text.strip().splitlines()[-1] if text.strip() else text, "snapshot status")
    return SnapshotStatus(
        hash=int(data["hash"]),
        revision=int(data["revision"]),
        total_keys=int(data["totalKey"]),
        total_size=int(data["totalSize"]),
    )


def parse_version(text: str) -> tuple[str | None, str | None]:
    """`etcd --version` / `etcdctl version` text → (etcd version, etcdctl version)."""
    etcd = ctl = None
    for line in text.splitlines():
        if line.startswith("etcd Version:"):
            etcd = line.split(":", 1)[1].strip()
        elif line.startswith("etcdctl version:"):
            ctl = line.split(":", 1)[1].strip()
    return etcd, ctl


def parse_count(text: str) -> int:
    data = _load(text, "get --count-only")
    return int(data.get("count", 0))


def parse_listeners(text: str) -> set[tuple[str, int]]:
    """Listening TCP sockets from /proc/net/tcp and /proc/net/tcp6 → {(address, port)}.

    Addresses come out as Python's ipaddress prints them ('0.0.0.0' and '::' for the wildcards).
    Read from /proc rather than `ss`, so that no tool needs to be installed on the host.
    """
    import ipaddress

    found: set[tuple[str, int]] = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl" or fields[3] != "0A":  # 0A: TCP_LISTEN
            continue
        address, _, port = fields[1].partition(":")
        try:
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            ip = ipaddress.ip_address(packed)
            found.add((str(ip), int(port, 16)))
        except ValueError:
            continue
    return found


WILDCARDS = ("0.0.0.0", "::")


def listening_on(listeners: set[tuple[str, int]], address: str, port: int) -> bool:
    """Something listens on address:port, or on the port of a wildcard address."""
    import ipaddress

    try:
        wanted = str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        wanted = ""  # a host name: only a wildcard or any listener on the port can be told apart
    return any(p == port and (a == wanted or a in WILDCARDS or not wanted) for a, p in listeners)


def parse_member_add(text: str) -> tuple[int, bool]:
    """`etcdctl member add -w json` → (new member id, is learner)."""
    data = _load(text, "member add")
    member = data.get("member") or {}
    return int(member.get("ID", 0)), bool(member.get("isLearner", False))


def parse_health_list(text: str) -> list[tuple[str, bool, str]]:
    """`endpoint health -w json` of several endpoints → [(endpoint, healthy, error)]."""
    data = _load(text, "endpoint health")
    return [(e["endpoint"], bool(e.get("health")), str(e.get("error") or "")) for e in data]


def parse_lease_list(text: str) -> list[int]:
    """`etcdctl lease list -w json` → the lease ids (decimal in JSON; `lease revoke` takes hex)."""
    data = _load(text, "lease list")
    return [int(lease["id"]) for lease in data.get("leases") or []]


@dataclass(frozen=True)
class HashKV:
    endpoint: str
    hash: int
    revision: int  # the header's: the member's current revision
    compact_revision: int


def parse_hashkv(text: str) -> list[HashKV]:
    """`etcdctl endpoint hashkv --rev=R -w json` of one or more endpoints."""
    return [
        HashKV(
            endpoint=e["Endpoint"],
            hash=int(e["HashKV"]["hash"]),
            revision=int(e["HashKV"]["header"]["revision"]),
            compact_revision=int(e["HashKV"].get("compact_revision", -1)),
        )
        for e in _load(text, "endpoint hashkv")
    ]


def parse_leased_keys(text: str) -> dict[str, int]:
    """`etcdctl get "" --prefix --keys-only -w json` → {key: lease id} of the keys held by a
    lease."""
    found = {}
    for kv in _load(text, "get").get("kvs") or []:
        lease = int(kv.get("lease", 0))
        if lease:
            found[base64.b64decode(kv["key"]).decode(errors="replace")] = lease
    return found
