"""What clients wait for: a light probe of N small puts and N linearizable gets of a key of
etcdops' own on every member, through etcd's JSON gateway in one curl on one member host (each
request timed by curl), the keys deleted after; p50 and p99 per member. Not etcd's `check perf`
(a minute of load: too heavy for production by default). Used by the `etcd_latency` step kind
and by `status --latency`.

With etcd auth on and client certificates etcd refuses its gateway to this client: the probe
then says so and measures nothing.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from etcdops.commands import Command
from etcdops.errors import EtcdopsError
from etcdops.facts import gateway
from etcdops.inventory import EtcdConfig, Inventory
from etcdops.templating import quote
from etcdops.transport.pool import Pool

MARK = "@@t "  # after each answer: @@t HTTP_CODE SECONDS N
PREFIX = "etcdops/latency/"
WORSE = 2.0  # p99 after / p99 before above this is said
# ...and only when it grew by at least this much: with 20 samples a p99 is one request, and 1.1
# -> 2.4 ms on a quiet loopback is noise, not a member that got slower
WORSE_BY_MS = 5.0
PROBE_TIMEOUT = 60.0  # s for the whole probe (each request is bounded by curl too)


@dataclass(frozen=True)
class Latency:
    """p50/p99 in ms per member host ({host: {put_p50_ms, put_p99_ms, get_p50_ms, ...}})."""

    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    refused: int = 0  # requests not answered 200
    error: str = ""  # why nothing was measured

    def lines(self) -> list[str]:
        if self.error:
            return [f"latency not measured: {self.error}"]
        out = [
            f"{host}: put p50 {f.get('put_p50_ms', '-')} ms p99 {f.get('put_p99_ms', '-')} ms, "
            f"get p50 {f.get('get_p50_ms', '-')} ms p99 {f.get('get_p99_ms', '-')} ms"
            for host, f in self.figures.items()
        ]
        if self.refused:
            out.append(f"{self.refused} request(s) not answered 200")
        return out


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


def parse_probe(
    stdout: str,
    requests: tuple[tuple[str, str], ...],
    host_of: Callable[[str], str],
    asked_on: str = "the host",
) -> Latency:
    """The probe's output: each request's code and time, by its place in requests; host_of names
    the member of a client URL."""
    if gateway.NO_CURL in stdout:
        return Latency(error=f"{asked_on} has no curl")
    times: dict[tuple[str, str], list[float]] = {}
    refused = 0
    for line in stdout.splitlines():
        if not line.startswith(MARK):
            continue
        code, seconds, n = (line[len(MARK) :].split() + ["", "", ""])[:3]
        if not n.isdigit() or int(n) >= len(requests):
            continue
        kind, url = requests[int(n)]
        if code == "200":
            times.setdefault((kind, url), []).append(float(seconds) * 1000)
        else:
            refused += 1
    if not times:
        why = "etcd's gateway refused every request (etcd auth on with client certificates?)"
        return Latency(refused=refused, error=why)
    report = {}
    for url in dict.fromkeys(url for kind, url in requests if kind != "delete"):
        figures = {}
        for kind in ("put", "get"):
            found = times.get((kind, url), [])
            if found:
                figures[f"{kind}_p50_ms"] = round(statistics.median(found), 2)
                figures[f"{kind}_p99_ms"] = round(percentile(found, 0.99), 2)
        report[host_of(url)] = figures
    return Latency(report, refused)


def measure(
    inventory: Inventory, pool: Pool, via: str, requests: int = 20, tag: str = "status"
) -> Latency:
    """The probe run once from the member host via against every member (`status --latency`)."""
    etcd = inventory.host(via).etcd if via else None
    if etcd is None:
        return Latency(error="no healthy member host that SSH reaches to measure from")
    endpoints = [h.etcd.client_url for h in inventory.members if h.etcd]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    command, asks = probe_command(etcd, endpoints, requests, f"{tag}-{stamp}")
    try:
        result = pool.get(via).run(command.text, PROBE_TIMEOUT)
    except EtcdopsError as exc:
        return Latency(error=f"{via}: {exc}")
    return parse_probe(result.stdout, asks, inventory.host_of_client_url, via)


def worse(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> list[str]:
    """Where a member's p99 more than doubled since before, by WORSE_BY_MS or more."""
    out = []
    for host, figures in after.items():
        for key in ("put_p99_ms", "get_p99_ms"):
            was, now = before.get(host, {}).get(key), figures.get(key)
            if was and now and now > WORSE * was and now - was >= WORSE_BY_MS:
                out.append(
                    f"WARNING: {host} {key} {was} -> {now} ms (more than {WORSE:g}x, "
                    f"+{now - was:.1f} ms)"
                )
    return out
