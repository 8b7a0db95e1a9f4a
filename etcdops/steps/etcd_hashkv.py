"""`etcd_hashkv`: every member's hash of its keyspace at one revision is the same.

Comparing at one fixed revision is what finds a member whose data differs: at each member's
own latest revision the hashes differ whenever a write lands between the reads (etcd#14510).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import StepFailed
from etcdops.facts.parse import parse_hashkv
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import ENDPOINTS, endpoints_of, host_of_url
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class HashKVSpec:
    revision: int = spec_field(
        "the revision every member hashes its keyspace at (0: the leader's revision when the step "
        "runs)",
        minimum=0,
    )
    members: Literal["inventory", "live"] = spec_field(
        "inventory: the members of the inventory's etcd group; live: every member of the member "
        "list when the step runs (a member that just joined, before the inventory lists it)",
        "inventory",
    )


@dataclass(frozen=True, kw_only=True)
class HashKVAction(Action):
    hashkv: Command
    revision: int
    members: int  # how many answers are wanted (0: as many as the live member list has)


class EtcdHashKVKind(StepKind[HashKVSpec, HashKVAction]):
    name = "etcd_hashkv"
    summary = "check every member's keyspace hash at one revision is the same (hashkv)"
    Spec = HashKVSpec
    shorthand = "revision"
    default_timeout = 300.0

    def plan(self, spec: HashKVSpec, ctx: StepContext) -> HashKVAction:
        live = spec.members == "live"
        endpoints = ENDPOINTS if live else ",".join(endpoints_of(ctx.inventory))
        hashkv = etcdctl(
            ctx.etcd,
            "endpoint",
            "hashkv",
            Live("REVISION", prefix="--rev="),
            "-w",
            "json",
            endpoints=endpoints,
            command_timeout="60s",
        ).reads()
        at = f"revision {spec.revision}" if spec.revision else "the leader's revision when it runs"
        who = "every member of the member list" if live else "every member"
        return HashKVAction(
            intent=f"check that {who} hashes its keyspace at {at} to the same value (etcd "
            "endpoint hashkv)",
            reads=(hashkv,),
            hashkv=hashkv,
            revision=spec.revision,
            members=0 if live else len(endpoints_of(ctx.inventory)),
        )

    def execute(self, action: HashKVAction, ex: ExecContext) -> Outcome:
        revision, wanted = action.revision, action.members
        values: dict[str, object] = {}
        if not revision or not wanted:
            facts = ex.read_facts()
            if not wanted:
                urls = [u for m in facts.members for u in m.client_urls[:1]]
                values["ENDPOINTS"], wanted = ",".join(urls), len(urls)
            if not revision:
                leader = facts.status_of(facts.leader_host) if facts.leader_host else None
                if leader is None:
                    raise StepFailed(ex.step, ex.host, "no leader to read a revision from")
                revision = leader.revision
        values["REVISION"] = revision
        return _compared(ex, action.hashkv.fill(**values), revision, wanted)


def _compared(ex: ExecContext, command: Command, revision: int, wanted: int) -> Outcome:
    result = ex.run(command, check=False)
    try:
        hashes = parse_hashkv(result.stdout)
    except ValueError:
        last = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise StepFailed(ex.step, ex.host, f"endpoint hashkv failed: {last}") from None
    if result.exit_code != 0 or len(hashes) < wanted:
        last = (result.stderr.strip().splitlines() or ["a member did not answer"])[-1]
        raise StepFailed(ex.step, ex.host, f"not every member answered hashkv: {last}")
    counts = Counter(h.hash for h in hashes)
    common, _ = counts.most_common(1)[0]
    odd = [h for h in hashes if h.hash != common]
    named = {host_of_url(ex.inventory, h.endpoint): f"{h.hash:x}" for h in hashes}
    report = {"revision": revision, "hashes": named}
    if odd:
        differ = ", ".join(f"{host_of_url(ex.inventory, h.endpoint)} ({h.hash:x})" for h in odd)
        raise StepFailed(
            ex.step,
            ex.host,
            f"at revision {revision} {differ} hash(es) the keyspace differently from the others "
            f"({common:x}): its data differs",
        )
    return Outcome.ok(f"every member hashes revision {revision} to {common:x}", report=report)
