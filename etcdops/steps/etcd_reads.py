"""How the step kinds read a running etcd: every member's status and health through etcd's gateway
in one curl where it can tell (facts/gateway.py), else `etcdctl -w json`, parsed in Python.

The reads are declared in the plan as templates (`reads(etcd)`): the members a read asks are
known only when it runs (those still to reach, those that answered), so the endpoints are a
placeholder filled then. A kind that reads through these helpers lists `reads(etcd)` in its
action's reads."""

from __future__ import annotations

from etcdops.commands import Command, Live, etcdctl, snapshot_tool, with_args
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


ENDPOINTS = Live("ENDPOINTS")


def status_read(etcd: EtcdConfig) -> Command:
    return etcdctl(etcd, "endpoint", "status", "-w", "json", endpoints=ENDPOINTS).reads()


def health_read(etcd: EtcdConfig) -> Command:
    return etcdctl(etcd, "endpoint", "health", "-w", "json", endpoints=ENDPOINTS).reads()


def reads(etcd: EtcdConfig) -> tuple[Command, ...]:
    """What a step that reads etcd through these helpers declares among its reads."""
    return (gateway.template(etcd), status_read(etcd), health_read(etcd))


def status_command(etcd: EtcdConfig, endpoints: list[str] | str | None = None) -> Command:
    """endpoint status of the endpoints (default: the host's own member), as declared."""
    urls = [endpoints] if isinstance(endpoints, str) else endpoints or [etcd.client_url]
    return status_read(etcd).fill(ENDPOINTS=",".join(urls))


def health_command(etcd: EtcdConfig, endpoints: list[str]) -> Command:
    return health_read(etcd).fill(ENDPOINTS=",".join(endpoints))


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
    """The gateway's answers to the (kind, URL) requests, on the host; None without curl. What this
    run learned is not asked again: a host without curl (nothing is), a gateway that refuses this
    client (only the metrics are)."""
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
    command = with_args(snapshot_tool(etcd, version), "snapshot", "status", path, "-w", "json")
    return command.reads()


def count_read(etcd: EtcdConfig, endpoints: str | None = None) -> Command:
    """Keys at a revision, counted by etcd: the `count` of a one-key range read over every key (3.4
    has no --count-only; both answer `count` with --limit=1). The revision is filled when it runs
    (`count_read(...).fill(REVISION=...)`). Serializable: the member asked answers from its own
    data at that fixed revision, also without a quorum (a snapshot saved while the cluster has lost
    it, by recover)."""
    return etcdctl(
        etcd,
        "get",
        "",
        "--prefix",
        "--keys-only",
        "--limit=1",
        "--consistency=s",
        Live("REVISION", prefix="--rev="),
        "-w",
        "json",
        endpoints=endpoints,
    ).reads()
