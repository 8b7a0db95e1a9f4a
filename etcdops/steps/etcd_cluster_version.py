"""`etcd_cluster_version`: wait (bounded) until every member serves the target version and the
cluster version is the target's minor: the end of a rolling upgrade. etcd raises the cluster
version by itself once every member runs the new minor (the leader checks about every 5 s), so a
minor upgrade's last step waits for it; a patch upgrade's cluster version does not change.

Read from each member's `/version` (`{"etcdserver":"3.5.16","etcdcluster":"3.5.0"}`) with curl on
the host, one read per member of the inventory, declared in the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from etcdops.commands import Command, Raw, sh
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.versions import Version


@dataclass(frozen=True)
class ClusterVersionSpec:
    version: str = spec_field("the etcd version every member must serve (MAJOR.MINOR.PATCH)")
    timeout: float = spec_field("seconds to wait at most", 60.0, minimum=1)


@dataclass(frozen=True, kw_only=True)
class ClusterVersionAction(Action):
    version: str
    cluster: str  # the cluster version wanted: MAJOR.MINOR.0
    asks: tuple[tuple[str, Command], ...]  # (member host, its /version read)
    wait: float


def version_read(curl_tls: list[str], url: str) -> Command:
    return sh(
        "curl", "-q", "-gsS", "--noproxy", "*", "--connect-timeout", "2", "--max-time", "3",
        *curl_tls, url.rstrip("/") + "/version", Raw("2>&1; echo"),
    ).reads()  # fmt: skip


def parse_version_answer(text: str) -> tuple[str, str] | None:
    """(etcdserver, etcdcluster) from a member's /version, or None when it did not answer so."""
    try:
        data = json.loads(text.strip().splitlines()[0]) if text.strip() else None
    except (ValueError, IndexError):
        return None
    if not isinstance(data, dict) or "etcdserver" not in data:
        return None
    return str(data["etcdserver"]), str(data.get("etcdcluster", ""))


class EtcdClusterVersionKind(StepKind[ClusterVersionSpec, ClusterVersionAction]):
    name = "etcd_cluster_version"
    summary = "wait until every member serves the version and the cluster version is its minor"
    Spec = ClusterVersionSpec
    shorthand = "version"
    default_timeout = 90.0

    def plan(self, spec: ClusterVersionSpec, ctx: StepContext) -> ClusterVersionAction:
        target = Version.parse(spec.version)
        etcd = ctx.etcd
        tls = [
            word
            for flag, value in (
                ("--cacert", etcd.cacert),
                ("--cert", etcd.cert),
                ("--key", etcd.key),
            )
            if value
            for word in (flag, value)
        ]
        asks = tuple(
            (h.name, version_read(tls, h.etcd.client_url)) for h in ctx.inventory.members if h.etcd
        )
        cluster = f"{target.line}.0"
        return ClusterVersionAction(
            intent=(
                f"wait up to {spec.timeout:g}s until every member serves etcd {target} and the "
                f"cluster version is {cluster}"
            ),
            reads=tuple(c for _, c in asks),
            version=str(target),
            cluster=cluster,
            asks=asks,
            wait=spec.timeout,
        )

    def execute(self, action: ClusterVersionAction, ex: ExecContext) -> Outcome:
        seen: dict[str, tuple[str, str] | None] = {}
        why: dict[str, str] = {}

        def read() -> tuple[bool, str]:
            for host, command in action.asks:
                out = ex.run(command, check=False).stdout
                seen[host] = parse_version_answer(out)
                why[host] = (out.strip().splitlines() or ["nothing"])[-1][:200]
            done = all(
                v is not None and v[0] == action.version and v[1] == action.cluster
                for v in seen.values()
            )
            return done, _state(seen, why)

        state = ex.poll(
            read,
            f"every member serves {action.version} and the cluster version is {action.cluster}",
            1.0,
            action.wait,
        )
        return Outcome.ok(
            state,
            report={
                "members": {h: v[0] if v else None for h, v in seen.items()},
                "cluster_version": action.cluster,
            },
        )


def _state(seen: dict[str, tuple[str, str] | None], why: dict[str, str]) -> str:
    parts = [f"{h} {v[0]}" if v else f"{h} no answer ({why.get(h, '')})" for h, v in seen.items()]
    clusters = sorted({v[1] for v in seen.values() if v})
    return ", ".join(parts) + f"; cluster version {' / '.join(clusters) or 'unknown'}"
