"""Parsers for `etcdctl -w json` / `etcdutl -w json` output. No I/O."""

from __future__ import annotations

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
        Member(id=int(m["ID"]), name=m.get("name", ""),
               peer_urls=tuple(m.get("peerURLs") or ()), client_urls=tuple(m.get("clientURLs") or ()),
               is_learner=bool(m.get("isLearner", False)))
        for m in data.get("members") or []
    ]
    return int(data["header"]["cluster_id"]), members


def parse_endpoint_status(text: str) -> list[EndpointStatus]:
    data = _load(text, "endpoint status")
    return [_status(entry["Endpoint"], entry["Status"]) for entry in data]


def _status(endpoint: str, s: dict[str, Any]) -> EndpointStatus:
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
    return [Alarm(member_id=int(m.group(1)), alarm=m.group(2)) for e in errors if (m := _ALARM.search(e))]


@dataclass(frozen=True)
class SnapshotStatus:
    hash: int
    revision: int
    total_keys: int
    total_size: int


def parse_snapshot_status(text: str) -> SnapshotStatus:
    data = _load(text.strip().splitlines()[-1] if text.strip() else text, "snapshot status")
    return SnapshotStatus(hash=int(data["hash"]), revision=int(data["revision"]),
                          total_keys=int(data["totalKey"]), total_size=int(data["totalSize"]))


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
