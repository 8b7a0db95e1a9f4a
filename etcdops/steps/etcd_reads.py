"""How the step kinds read a running etcd: every member's status and health through etcd's
gateway in one curl where it can tell (facts/gateway.py), else `etcdctl -w json`, parsed in
Python."""

from __future__ import annotations

from etcdops.commands import Command, etcdctl, snapshot_tool, with_args
from etcdops.facts import gateway
from etcdops.facts.model import EndpointStatus
from etcdops.facts.parse import (
    parse_endpoint_status,
    parse_health_list,
    parse_status,
)
from etcdops.inventory import EtcdConfig, Inventory
from etcdops.steps.base import ExecContext

# what the run's steps learn of a host and do not ask again (ExecContext.learned)
NO_CURL = "no curl"
REFUSED = "gateway refused"


def endpoints_of(inventory: Inventory) -> list[str]:
    return [h.etcd.client_url for h in inventory.members if h.etcd]


def status_command(etcd: EtcdConfig, endpoints: list[str] | str | None = None) -> Command:
    return etcdctl(etcd, "endpoint", "status", "-w", "json", endpoints=endpoints)


def health_command(etcd: EtcdConfig, endpoints: list[str]) -> Command:
    return etcdctl(etcd, "endpoint", "health", "-w", "json", endpoints=endpoints)


def read_status(
    ex: ExecContext, etcd: EtcdConfig, endpoints: list[str] | str | None = None
) -> list[EndpointStatus]:
    """Every endpoint's status: from etcd's gateway when each answers it, else etcdctl's."""
    urls = [endpoints] if isinstance(endpoints, str) else endpoints or [etcd.client_url]
    found, _ = gateway_status(ex, etcd, urls, health=False)
    if found is not None:
        return found
    return parse_endpoint_status(ex.run(status_command(etcd, endpoints)).stdout)


def gateway_status(
    ex: ExecContext, etcd: EtcdConfig, endpoints: list[str], health: bool = True
) -> tuple[list[EndpointStatus] | None, bool]:
    """(every endpoint's status, whether the gateway shows each healthy) in one curl: healthy is a
    3.5+ member answering the linearizable member list, what endpoint health's quorum read proves
    (asked only with health). The statuses are None when the gateway gave no status for some
    endpoint; healthy False when it cannot tell (a 3.4 member, a refused member list), and
    unhealthy()'s etcdctl says who is not."""
    answers = gateway_answers(ex, etcd, endpoints, ("status", "members") if health else ("status",))
    if answers is None:
        return None, False
    statuses, healthy = [], health
    for url in endpoints:
        status = gateway.status_of(answers.get(("status", url)))
        if status is None:
            return None, False
        healthy = healthy and gateway.proves_health(status, answers.get(("members", url)))
        statuses.append(parse_status(url, status))
    return statuses, healthy


def gateway_answers(
    ex: ExecContext, etcd: EtcdConfig, urls: list[str], kinds: tuple[str, ...]
) -> dict[tuple[str, str], gateway.Answer] | None:
    """The gateway's answers to kinds for every URL, in one curl on the host; None without curl."""
    return gateway_ask(ex, etcd, gateway.requests_of(urls, kinds))


def gateway_ask(
    ex: ExecContext, etcd: EtcdConfig, requests: list[tuple[str, str]]
) -> dict[tuple[str, str], gateway.Answer] | None:
    """The gateway's answers to the (kind, URL) requests, on the host; None without curl. What
    this run learned is not asked again: a host without curl (nothing is), a gateway that refuses
    this client (only the metrics are)."""
    if ex.learned.get((ex.host, NO_CURL)):
        return None
    if ex.learned.get((ex.host, REFUSED)):
        requests = [r for r in requests if r[0] == "metrics"]
    if not requests:
        return {}
    result = ex.run(gateway.requests_command(etcd, requests), check=False)
    if gateway.NO_CURL in result.stdout:
        ex.learned[(ex.host, NO_CURL)] = True
    if not result.ok or gateway.NO_CURL in result.stdout:
        return None
    answers = gateway.parse(result.stdout, requests)
    if gateway.refused(answers):
        ex.learned[(ex.host, REFUSED)] = True
    return answers


def host_of_url(inventory: Inventory | None, url: str) -> str:
    if inventory is not None:
        for host in inventory.hosts.values():
            if host.etcd is not None and host.etcd.client_url.rstrip("/") == url.rstrip("/"):
                return host.name
    return url


def unhealthy(ex: ExecContext, etcd: EtcdConfig, endpoints: list[str]) -> list[str]:
    """Members failing `endpoint health` (an alarm is not ill health: the member serves reads)."""
    result = ex.run(health_command(etcd, endpoints), check=False)
    try:
        entries = parse_health_list(result.stdout)
    except ValueError:
        return [f"every member ({(result.stderr or 'no answer').strip().splitlines()[-1:]})"]
    return [
        f"{host_of_url(ex.inventory, url)} ({error or 'unhealthy'})"
        for url, ok, error in entries
        if not ok and "Active Alarm" not in error
    ]


def snapshot_status_command(etcd: EtcdConfig, version: str | None, path: str) -> Command:
    return with_args(snapshot_tool(etcd, version), "snapshot", "status", path, "-w", "json")


def count_command(etcd: EtcdConfig, revision: int | str, endpoints: str | None = None) -> Command:
    """Keys at a revision, counted by etcd: the `count` of a one-key range read over every key
    (3.4 has
    no --count-only; both answer `count` with --limit=1)."""
    return etcdctl(
        etcd,
        "get",
        "",
        "--prefix",
        "--keys-only",
        "--limit=1",
        f"--rev={revision}",
        "-w",
        "json",
        endpoints=endpoints,
    )
