"""`etcd_latency`: a light probe of what clients wait for (facts/latency.py): N small puts and N
linearizable gets of a key of etcdops' own on every member, in one curl on the host, the keys
deleted after; p50 and p99 per member, bounded in count and time.

A probe labelled `after` compares with the `before` of the same run and warns when a member's
p99 has more than doubled. `check_perf: true` also runs etcd's own `etcdctl check perf` (a
minute of load: only where the operator asks for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from etcdops.commands import Command, etcdctl
from etcdops.facts import latency
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import endpoints_of, host_of_url
from etcdops.steps.spec import spec_field

PERF_TIMEOUT = "120s"  # etcd's check perf runs 60 s of load, then reads


@dataclass(frozen=True)
class LatencySpec:
    requests: int = spec_field("puts (and as many gets) per member", 20, minimum=1)
    label: Literal["", "before", "after"] = spec_field(
        "before | after: compared within the run (after > 2x before is said)", ""
    )
    check_perf: bool = spec_field("also run etcd's own check perf (60 s of load)", False)


@dataclass(frozen=True, kw_only=True)
class LatencyAction(Action):
    probe: Command
    requests: tuple[tuple[str, str], ...]  # (kind, client URL) in the order curl asks them
    label: str
    perf: Command | None = None


class EtcdLatencyKind(StepKind[LatencySpec, LatencyAction]):
    name = "etcd_latency"
    summary = "a light latency probe: small puts and linearizable gets per member, p50/p99"
    Spec = LatencySpec
    shorthand = "label"
    default_timeout = 60.0

    def plan(self, spec: LatencySpec, ctx: StepContext) -> LatencyAction:
        endpoints = endpoints_of(ctx.inventory)
        probe, asks = latency.probe_command(ctx.etcd, endpoints, spec.requests, ctx.run.id)
        label = f" ({spec.label})" if spec.label else ""
        perf = None
        if spec.check_perf:
            perf = etcdctl(
                ctx.etcd, "check", "perf", "--load=s", endpoints=endpoints,
                command_timeout=PERF_TIMEOUT,
            )  # fmt: skip
        return LatencyAction(
            intent=f"measure latency{label}: {spec.requests} small puts and linearizable gets "
            f"on each member under {latency.PREFIX}{ctx.run.id}/, deleted after"
            + ("; then etcd's own check perf (60 s of load)" if perf else ""),
            commands=(probe, *([perf] if perf else [])),
            probe=probe,
            requests=asks,
            label=spec.label,
            perf=perf,
        )

    def execute(self, action: LatencyAction, ex: ExecContext) -> Outcome:
        result = ex.run(action.probe, check=False)
        found = latency.parse_probe(
            result.stdout, action.requests, lambda url: host_of_url(ex.inventory, url), ex.host
        )
        lines = found.lines()
        report: dict[str, object] = {"latency": found.figures, "label": action.label}
        if not found.error:
            lines += self._compare(ex, action.label, found.figures)
        if action.perf is not None:
            perf = ex.run(action.perf, check=False)
            said = [
                ln.strip()
                for ln in (perf.stdout + perf.stderr).splitlines()
                if ln.strip().startswith(("PASS", "FAIL", "Error", "{"))  # not its progress bar
            ]
            verdict = "PASS" if perf.ok and not any("FAIL" in ln for ln in said) else "FAIL"
            lines.append(f"check perf: {verdict}" + (f" ({'; '.join(said[-4:])})" if said else ""))
            report["check_perf"] = {"verdict": verdict, "lines": said[-10:]}
        if found.error and action.perf is None:
            return Outcome.ok("\n".join(lines))
        return Outcome.changed("\n".join(lines), report=report)

    @staticmethod
    def _compare(ex: ExecContext, label: str, figures: dict[str, dict[str, float]]) -> list[str]:
        """`before` is kept for the run; `after` says where a p99 has more than doubled."""
        if label == "before":
            ex.learned[("latency", "before")] = figures
            return []
        before = ex.learned.get(("latency", "before")) if label == "after" else None
        if not isinstance(before, dict):
            return []
        return latency.worse(before, figures) or ["no member's p99 more than doubled since before"]
