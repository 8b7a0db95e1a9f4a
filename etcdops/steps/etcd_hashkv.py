"""`etcd_hashkv`: every member's hash of its keyspace at one revision is the same.

Comparing at one fixed revision is what finds a member whose data differs: at each member's
own latest revision the hashes differ whenever a write lands between the reads (etcd#14510).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from etcdops.commands import Command, Live, etcdctl
from etcdops.errors import StepFailed
from etcdops.facts.parse import parse_hashkv
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import endpoints_of, host_of_url
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class HashKVSpec:
    revision: int = spec_field("the revision every member hashes its keyspace at", minimum=1)


@dataclass(frozen=True, kw_only=True)
class HashKVAction(Action):
    hashkv: Command
    revision: int
    members: int


class EtcdHashKVKind(StepKind[HashKVSpec, HashKVAction]):
    name = "etcd_hashkv"
    summary = "check every member's keyspace hash at one revision is the same (hashkv)"
    Spec = HashKVSpec
    shorthand = "revision"
    default_timeout = 300.0

    def plan(self, spec: HashKVSpec, ctx: StepContext) -> HashKVAction:
        endpoints = endpoints_of(ctx.inventory)
        hashkv = (
            etcdctl(
                ctx.etcd,
                "endpoint",
                "hashkv",
                Live("REVISION", prefix="--rev="),
                "-w",
                "json",
                endpoints=endpoints,
                command_timeout="60s",
            )
            .reads()
            .fill(REVISION=spec.revision)
        )
        return HashKVAction(
            intent=f"check that every member hashes its keyspace at revision {spec.revision} "
            "to the same value (etcd endpoint hashkv)",
            reads=(hashkv,),
            hashkv=hashkv,
            revision=spec.revision,
            members=len(endpoints),
        )

    def execute(self, action: HashKVAction, ex: ExecContext) -> Outcome:
        result = ex.run(action.hashkv, check=False)
        try:
            hashes = parse_hashkv(result.stdout)
        except ValueError:
            last = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            raise StepFailed(ex.step, ex.host, f"endpoint hashkv failed: {last}") from None
        if result.exit_code != 0 or len(hashes) < action.members:
            last = (result.stderr.strip().splitlines() or ["a member did not answer"])[-1]
            raise StepFailed(ex.step, ex.host, f"not every member answered hashkv: {last}")
        counts = Counter(h.hash for h in hashes)
        common, _ = counts.most_common(1)[0]
        odd = [h for h in hashes if h.hash != common]
        named = {host_of_url(ex.inventory, h.endpoint): f"{h.hash:x}" for h in hashes}
        report = {"revision": action.revision, "hashes": named}
        if odd:
            differ = ", ".join(f"{host_of_url(ex.inventory, h.endpoint)} ({h.hash:x})" for h in odd)
            raise StepFailed(
                ex.step,
                ex.host,
                f"at revision {action.revision} {differ} hash(es) the keyspace differently from "
                f"the others ({common:x}): its data differs",
            )
        return Outcome.ok(
            f"every member hashes revision {action.revision} to {common:x}", report=report
        )
