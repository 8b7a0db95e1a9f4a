"""`etcd_drill_verify`: prove a restore drill's throwaway cluster is the snapshot, and record it.

Read from one drill host with its own etcdctl (its TLS files; etcd auth as configured), against
the drill members' client URLs only. Waits (bounded) for every member to answer with one leader
and be healthy, then checks: one cluster id and every drill host a member of it; each member's
revision is the snapshot's (a later one is named: leases of the snapshot that expire once the
drill cluster has a leader write); the key count at the snapshot's revision is its metadata's;
`hashkv` at that revision is the same on every drill member, and equal to the source cluster's
at that revision when that can be told: the running cluster is the snapshot's own (same cluster
id), has not compacted past the revision, and has the compaction the snapshot had (else the
record says why it was not compared). A failed check does not fail this step: the record says
what was and was not proven, the drill cluster is then stopped, and `drill_result` fails the run.

The record (`BASE.drill.json`) goes beside the snapshot on the control node, and beside the
off-site object when the drill used one; `snapshots list` shows it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etcdops import catalog, offsite
from etcdops.commands import AND, Command, Live, Raw, etcdctl, sh
from etcdops.errors import EtcdopsError, StepFailed
from etcdops.facts.parse import parse_count, parse_endpoint_status, parse_health_list
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_drill_member import drill_paths, with_port
from etcdops.steps.etcd_reads import count_read
from etcdops.steps.spec import spec_field
from etcdops.transport.local import CONTROL

# hashkv reads every key revision of the database: seconds on a GB (etcdctl's default is 5 s)
HASH_TIMEOUT = "120s"
REQUIRED = ("healthy", "one_cluster", "revision", "keys", "hashkv_members")


@dataclass(frozen=True)
class VerifySpec:
    members: list[str] = spec_field("the drill's hosts (inventory names)")
    snapshot: str = spec_field("the snapshot on the control node (its record goes beside it)")
    revision: int = spec_field("the snapshot's revision (its metadata's)", minimum=1)
    keys: int = spec_field("the keys at that revision (its metadata's; -1: unknown)", -1)
    sha256: str = spec_field("the snapshot's sha256 (the record names the bytes it proves)", "")
    cluster_id: str = spec_field("the cluster the snapshot was taken of (hex)", "")
    remote: str = spec_field("REMOTE:PATH/NAME.db it came from: the record goes there too", "")
    client_port: int = spec_field("the drill's client port", 22379, minimum=1)
    wait: float = spec_field("seconds for the drill cluster to become healthy", 120.0, minimum=1)


@dataclass(frozen=True, kw_only=True)
class VerifyAction(Action):
    spec: VerifySpec
    endpoints: tuple[str, ...]
    status: Command
    health: Command
    counts: tuple[Command, ...]
    hashkv: Command
    source: str  # the member host of the source cluster read for its hashkv, or ''
    source_why: str  # why the source is not compared, when it is not
    source_hashkv: Command | None
    logs: tuple[tuple[str, Command], ...]
    put: Command | None
    write: Command
    hosts: tuple[str, ...] = field(default=())


class EtcdDrillVerifyKind(StepKind[VerifySpec, VerifyAction]):
    name = "etcd_drill_verify"
    summary = (
        "prove a drill cluster holds the snapshot (health, cluster id, revision, keys, hashkv "
        "against the source) and record what was proven"
    )
    Spec = VerifySpec
    default_timeout = 300.0

    def plan(self, spec: VerifySpec, ctx: StepContext) -> VerifyAction:
        etcd = ctx.etcd
        eps = []
        for name in spec.members:
            member = ctx.inventory.hosts[name].etcd if name in ctx.inventory.hosts else None
            if member is None:
                raise ctx.error(f"etcd_drill_verify: {name!r} has no etcd settings")
            eps.append(with_port(member.client_url, spec.client_port))
        rev = f"--rev={spec.revision}"
        status = etcdctl(etcd, "endpoint", "status", "-w", "json", endpoints=eps).reads()
        health = etcdctl(etcd, "endpoint", "health", "-w", "json", endpoints=eps).reads()
        counts = tuple(count_read(etcd, endpoints=e).fill(REVISION=spec.revision) for e in eps)
        hashkv = etcdctl(
            etcd,
            "endpoint",
            "hashkv",
            rev,
            "-w",
            "json",
            endpoints=eps,
            command_timeout=HASH_TIMEOUT,
        ).reads()
        source, why = _source(ctx, spec)
        source_hashkv = None
        if source:
            source_etcd = ctx.etcd_of(source)
            source_hashkv = etcdctl(
                source_etcd, "endpoint", "hashkv", rev, "-w", "json", command_timeout=HASH_TIMEOUT
            ).reads()
        logs = tuple(
            (
                n,
                sh(
                    "tail", "-n", "20", "--", drill_paths(ctx.etcd_of(n), ctx.run.stamp).log
                ).reads(),
            )
            for n in spec.members
        )
        path = str(_record_path(spec.snapshot))
        write = sh(
            "printf",
            "%s\\n",
            Live("RECORD"),
            Raw(">"),
            f"{path}.part",
            AND,
            "mv",
            "-f",
            "--",
            f"{path}.part",
            path,
        )
        put = None
        if spec.remote:
            where = offsite.parse_remote(spec.remote)
            record = where.parent.child(where.name[: -len(".db")] + catalog.DRILL)
            put = offsite.put(offsite.rclone_binary(), str(_record_path(spec.snapshot)), record)
        compared = f"hashkv at {spec.revision} against {source}'s" if source else why
        return VerifyAction(
            intent=f"wait up to {spec.wait:g}s for the drill cluster ({', '.join(spec.members)}) "
            f"to be healthy, then check one cluster id, revision {spec.revision}, "
            f"{spec.keys if spec.keys >= 0 else 'the'} keys at it, hashkv equal on every drill "
            f"member; {compared}; record it in {_record_path(spec.snapshot)}"
            + (f" and beside {spec.remote}" if put else ""),
            commands=(write, *((put,) if put else ())),
            reads=(status, health, *counts, hashkv, *(c for _, c in logs))
            + ((source_hashkv,) if source_hashkv else ()),
            spec=spec,
            endpoints=tuple(eps),
            status=status,
            health=health,
            counts=counts,
            hashkv=hashkv,
            source=source,
            source_why=why,
            source_hashkv=source_hashkv,
            logs=logs,
            put=put,
            write=write,
            hosts=tuple(spec.members),
        )

    def execute(self, action: VerifyAction, ex: ExecContext) -> Outcome:
        spec = action.spec
        started = time.monotonic()
        checks: dict[str, dict[str, Any]] = {}
        try:
            ex.poll(
                lambda: self._healthy(action, ex), "the drill cluster is healthy", 0.25, spec.wait
            )
            checks["healthy"] = _check(
                True, f"every member healthy after {time.monotonic() - started:.1f}s"
            )
        except StepFailed as exc:
            checks["healthy"] = _check(False, exc.reason)
        if checks["healthy"]["ok"]:
            checks.update(self._checks(action, ex))
        else:
            checks["logs"] = {"ok": None, "detail": self._logs(action, ex)}
        # proven: every required check passed and none failed (a hashkv unlike the source's fails)
        proven = all(checks.get(name, {}).get("ok") is True for name in REQUIRED) and not any(
            c.get("ok") is False for c in checks.values()
        )
        record = {
            "written_by": catalog.WRITTEN_BY,
            "kind": "restore-drill",
            "run": ex.info.id,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "snapshot": Path(spec.snapshot).name,
            "sha256": spec.sha256,
            "from": spec.remote or spec.snapshot,
            "hosts": list(action.hosts),
            "revision": spec.revision,
            "proven": proven,
            "checks": checks,
        }
        path = _record_path(spec.snapshot)
        ex.run(action.write.fill(RECORD=json.dumps(record, sort_keys=True)), host=CONTROL)
        if action.put is not None:
            ex.run(action.put, host=CONTROL)
        lines = [f"{_word(c['ok'])} {name}: {c['detail']}" for name, c in checks.items()]
        verdict = "PROVEN" if proven else "NOT PROVEN"
        return Outcome.changed(
            f"{verdict}: {Path(spec.snapshot).name}\n" + "\n".join(lines) + f"\nrecord: {path}",
            report={"proven": proven, "record": str(path), "checks": checks},
        )

    @staticmethod
    def _healthy(action: VerifyAction, ex: ExecContext) -> tuple[bool, str]:
        status = ex.run(action.status, check=False)
        try:
            found = parse_endpoint_status(status.stdout) if status.stdout.strip() else []
        except (ValueError, EtcdopsError):
            found = []
        answered = {s.endpoint for s in found}
        missing = [e for e in action.endpoints if e not in answered]
        if missing:
            return False, f"no answer from {', '.join(missing)}"
        if not any(s.is_leader for s in found):
            return False, "no leader yet"
        health = ex.run(action.health, check=False)
        try:
            entries = parse_health_list(health.stdout)
        except (ValueError, EtcdopsError):
            return False, "endpoint health gave no answer"
        bad = [f"{url} ({error or 'unhealthy'})" for url, ok, error in entries if not ok]
        if bad or len(entries) < len(action.endpoints):
            return False, f"unhealthy: {', '.join(bad) or 'not every member answered'}"
        return True, "healthy"

    def _checks(self, action: VerifyAction, ex: ExecContext) -> dict[str, dict[str, Any]]:
        spec = action.spec
        found = parse_endpoint_status(ex.run(action.status).stdout)
        clusters = {s.cluster_id for s in found}
        checks = {
            "one_cluster": _check(
                len(clusters) == 1 and len(found) == len(action.endpoints),
                f"cluster {', '.join(f'{c:x}' for c in clusters)}, {len(found)} members",
            ),
            "revision": _revision(found, spec.revision),
        }
        counts = [parse_count(ex.run(c).stdout) for c in action.counts]
        if spec.keys >= 0:
            checks["keys"] = _check(
                all(c == spec.keys for c in counts),
                f"{counts} keys at revision {spec.revision} on the drill members; the snapshot's "
                f"metadata: {spec.keys}",
            )
        else:
            checks["keys"] = _check(False, f"{counts}; the snapshot's metadata has no key count")
        hashes = _hashes(ex.run(action.hashkv, check=False).stdout)
        values = {h for h, _ in hashes.values()}
        checks["hashkv_members"] = _check(
            len(hashes) == len(action.endpoints) and len(values) == 1,
            f"hashkv at {spec.revision}: {sorted(values)} on {len(hashes)} members",
        )
        checks["hashkv_source"] = self._source(action, ex, hashes)
        return checks

    @staticmethod
    def _source(
        action: VerifyAction, ex: ExecContext, drill: dict[str, tuple[int, int]]
    ) -> dict[str, Any]:
        rev = action.spec.revision
        if action.source_hashkv is None:
            return {"ok": None, "detail": action.source_why}
        result = ex.run(action.source_hashkv, host=action.source, check=False)
        if "compacted" in result.stderr:
            return {"ok": None, "detail": f"not compared: {action.source} has compacted past {rev}"}
        source = _hashes(result.stdout)
        if not source or not drill:
            tail = (result.stderr.strip().splitlines() or ["no answer"])[-1][:200]
            return {"ok": None, "detail": f"not compared: {action.source} gave no hashkv ({tail})"}
        (hash_src, compact_src), (hash_drill, compact_drill) = (
            next(iter(source.values())),
            next(iter(drill.values())),
        )
        if compact_src != compact_drill:
            return {
                "ok": None,
                "detail": f"not compared: {action.source} compacted at {compact_src} since the "
                f"snapshot (the snapshot's compaction: {compact_drill}); a hash covers the "
                "revisions after the compaction",
            }
        return _check(
            hash_src == hash_drill,
            f"hashkv at {rev}: drill {hash_drill}, source cluster ({action.source}) {hash_src}",
        )

    @staticmethod
    def _logs(action: VerifyAction, ex: ExecContext) -> str:
        lines = []
        for host, command in action.logs:
            try:
                tail = ex.run(command, host=host, check=False).stdout.strip().splitlines()[-3:]
            except EtcdopsError as exc:
                tail = [str(exc)]
            lines.append(f"{host}: " + " | ".join(t[:200] for t in tail))
        return "; ".join(lines)


def _record_path(snapshot: str) -> Path:
    """BASE.drill.json beside BASE.db."""
    path = Path(snapshot)
    return path.with_name(path.name.removesuffix(".db") + catalog.DRILL)


def _word(ok: bool | None) -> str:
    if ok is None:
        return "not checked"
    return "ok" if ok else "FAILED"


def _check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


def _revision(found: list[Any], expected: int) -> dict[str, Any]:
    revisions = sorted({s.revision for s in found})
    if revisions == [expected]:
        return _check(True, f"revision {expected} on every member, as the snapshot's metadata")
    if revisions and min(revisions) > expected:
        return _check(
            True,
            f"revision {revisions} on the members, the snapshot's {expected}: writes since the "
            "drill cluster started (leases in the snapshot expire); keys and hashkv are "
            f"checked at {expected}",
        )
    return _check(False, f"revision {revisions}, the snapshot's metadata: {expected}")


def _hashes(text: str) -> dict[str, tuple[int, int]]:
    """endpoint -> (hash, compact revision) from `endpoint hashkv -w json`."""
    try:
        data = json.loads(text.strip() or "[]")
    except json.JSONDecodeError:
        return {}
    found = {}
    for item in data if isinstance(data, list) else []:
        kv = item.get("HashKV") if isinstance(item, dict) else None
        if isinstance(kv, dict) and isinstance(kv.get("hash"), int):
            found[str(item.get("Endpoint"))] = (kv["hash"], int(kv.get("compact_revision", 0)))
    return found


def _source(ctx: StepContext, spec: VerifySpec) -> tuple[str, str]:
    """(the member host whose etcd gives the source cluster's hashkv, or '' and why not)."""
    facts = ctx.facts
    running = f"{facts.cluster_id:x}" if facts.cluster_id else ""
    if not running:
        return "", "not compared: the source cluster cannot be read now"
    if spec.cluster_id and running != spec.cluster_id:
        return "", (
            f"not compared: the snapshot is of cluster {spec.cluster_id}, the inventory's cluster "
            f"is {running} now (restored since?)"
        )
    host = facts.healthy_voter_host([]) or facts.leader_host
    if not host:
        return "", "not compared: no healthy member of the source cluster"
    return host, ""
