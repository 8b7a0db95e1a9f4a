"""`etcd_latency`: a light probe of what clients wait for: N small puts and N linearizable gets of
a key of etcdops' own on every member, through etcd's JSON gateway in one curl on the host (each
request timed by curl), the keys deleted after; p50 and p99 per member, bounded in count and
time. Not etcd's `check perf` (a minute of load: too heavy for production by default).

A probe labelled `after` compares with the `before` of the same run and warns when a member's
p99 has more than doubled. With etcd auth on and client certificates etcd refuses its gateway to
this client: the probe then says so and measures nothing.
"""

from __future__ import annotations

import base64
import json
import statistics
from dataclasses import dataclass
from typing import Literal

from etcdops.commands import Command
from etcdops.facts import gateway
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import endpoints_of, host_of_url
from etcdops.steps.spec import spec_field
from etcdops.templating import quote

MARK = "@@t "  # after each answer: @@t HTTP_CODE SECONDS N
PREFIX = "etcdops/latency/"
WORSE = 2.0  # p99 after / p99 before above this is said


@dataclass(frozen=True)
class LatencySpec:
    requests: int = spec_field("puts (and as many gets) per member", 20, minimum=1)
    label: Literal["", "before", "after"] = spec_field(
        "before | after: compared within the run (after > 2x before is said)", ""
    )


@dataclass(frozen=True, kw_only=True)
class LatencyAction(Action):
    probe: Command
    requests: tuple[tuple[str, str], ...]  # (kind, client URL) in the order curl asks them
    label: str


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def probe_command(
    etcd: EtcdConfig, endpoints: list[str], n: int, run_id: str
) -> tuple[Command, tuple[tuple[str, str], ...]]:
    """One curl: for each endpoint, n puts of a key of its own, then n linearizable gets of it;
    then every key under the run's prefix deleted (once, through the first endpoint)."""
    tls = [
        f"{flag} {quote(value)}"
        for flag, value in (("--cacert", etcd.cacert), ("--cert", etcd.cert), ("--key", etcd.key))
        if value
    ]
    prefix = f"{PREFIX}{run_id}/"
    asks: list[tuple[str, str, str, str]] = []  # (kind, url, path, body)
    for i, url in enumerate(endpoints):
        key = _b64(f"{prefix}{i}")
        put = json.dumps({"key": key, "value": _b64("x")})
        get = json.dumps({"key": key})
        asks += [("put", url, "/v3/kv/put", put)] * n + [("get", url, "/v3/kv/range", get)] * n
    end = _b64(prefix[:-1] + chr(ord(prefix[-1]) + 1))
    wipe = json.dumps({"key": _b64(prefix), "range_end": end})
    asks.append(("delete", endpoints[0], "/v3/kv/deleterange", wipe))
    parts = []
    for n_, (_kind, url, path, body) in enumerate(asks):
        write = f"\\n{MARK}%{{http_code}} %{{time_total}} {n_}\\n"
        parts.append(
            # fmt: skip
            " ".join(
                [
                    "-gsS --noproxy '*' --connect-timeout 2 --max-time",
                    gateway.TIMEOUT,
                    *tls,
                    "-X POST -d",
                    quote(body),
                    "-w",
                    quote(write),
                    quote(url.rstrip("/") + path),
                ]
            )
        )
    text = "curl -q " + " --next ".join(parts)
    shown = (
        f"curl -q ... {n} puts and {n} gets of {prefix}N on each of {', '.join(endpoints)}, "
        f"then a delete of {prefix}*  # etcd's gateway, each request timed"
    )
    command = Command(
        f"if command -v curl >/dev/null 2>&1; then {text}; else echo {gateway.NO_CURL}; fi", shown
    )
    return command, tuple((kind, url) for kind, url, _p, _b in asks)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class EtcdLatencyKind(StepKind[LatencySpec, LatencyAction]):
    name = "etcd_latency"
    summary = "a light latency probe: small puts and linearizable gets per member, p50/p99"
    Spec = LatencySpec
    shorthand = "label"
    default_timeout = 60.0

    def plan(self, spec: LatencySpec, ctx: StepContext) -> LatencyAction:
        endpoints = endpoints_of(ctx.inventory)
        probe, asks = probe_command(ctx.etcd, endpoints, spec.requests, ctx.run.id)
        label = f" ({spec.label})" if spec.label else ""
        return LatencyAction(
            intent=f"measure latency{label}: {spec.requests} small puts and linearizable gets "
            f"on each member under {PREFIX}{ctx.run.id}/, deleted after",
            commands=(probe,),
            probe=probe,
            requests=asks,
            label=spec.label,
        )

    def execute(self, action: LatencyAction, ex: ExecContext) -> Outcome:
        result = ex.run(action.probe, check=False)
        if gateway.NO_CURL in result.stdout:
            return Outcome.ok(f"latency not measured: {ex.host} has no curl")
        times: dict[tuple[str, str], list[float]] = {}
        refused = 0
        for line in result.stdout.splitlines():
            if not line.startswith(MARK):
                continue
            code, seconds, n = (line[len(MARK) :].split() + ["", "", ""])[:3]
            if not n.isdigit() or int(n) >= len(action.requests):
                continue
            kind, url = action.requests[int(n)]
            if code == "200":
                times.setdefault((kind, url), []).append(float(seconds) * 1000)
            else:
                refused += 1
        if not times:
            why = "etcd's gateway refused every request (etcd auth on with client certificates?)"
            return Outcome.ok(f"latency not measured: {why}")
        report = {}
        lines = []
        for url in dict.fromkeys(url for _k, url in action.requests if _k != "delete"):
            host = host_of_url(ex.inventory, url)
            figures = {}
            for kind in ("put", "get"):
                found = times.get((kind, url), [])
                if found:
                    figures[f"{kind}_p50_ms"] = round(statistics.median(found), 2)
                    figures[f"{kind}_p99_ms"] = round(percentile(found, 0.99), 2)
            report[host] = figures
            lines.append(
                f"{host}: put p50 {figures.get('put_p50_ms', '-')} ms p99 "
                f"{figures.get('put_p99_ms', '-')} ms, get p50 {figures.get('get_p50_ms', '-')} "
                f"ms p99 {figures.get('get_p99_ms', '-')} ms"
            )
        if refused:
            lines.append(f"{refused} request(s) not answered 200")
        lines += self._compare(ex, action.label, report)
        return Outcome.changed("\n".join(lines), report={"latency": report, "label": action.label})

    @staticmethod
    def _compare(ex: ExecContext, label: str, report: dict[str, dict[str, float]]) -> list[str]:
        """`before` is kept for the run; `after` says where a p99 has more than doubled."""
        if label == "before":
            ex.learned[("latency", "before")] = report
            return []
        before = ex.learned.get(("latency", "before")) if label == "after" else None
        if not isinstance(before, dict):
            return []
        worse = []
        for host, figures in report.items():
            for key in ("put_p99_ms", "get_p99_ms"):
                was, now = before.get(host, {}).get(key), figures.get(key)
                if was and now and now > WORSE * was:
                    worse.append(f"WARNING: {host} {key} {was} -> {now} ms (more than {WORSE:g}x)")
        return worse or ["no member's p99 more than doubled since before"]
