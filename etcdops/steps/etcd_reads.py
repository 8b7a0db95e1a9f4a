"""How the step kinds read a running etcd: every member's status and health through etcd's gateway
in one curl where it can tell (facts/gateway.py), else `etcdctl -w json`, parsed in Python.

The reads are declared in the plan as templates (`reads(etcd)`): the members a read asks are
known only when it runs (those still to reach, those that answered), so the endpoints are a
placeholder filled then. A kind that reads through these helpers lists `reads(etcd)` in its
action's reads."""

from __future__ import annotations

import json
from dataclasses import dataclass

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
    return inventory.host_of_client_url(url) if inventory is not None else url


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


# ExecContext.learned[(host, SETTLED)]: its backend commits when its space figures had settled
# after this run's compaction; [(host, DECIDED)]: what its defragmentation step decided, on what
SETTLED = "space settled"
DECIDED = "defrag decided"
NUDGE_TTL = 60  # s: a lease a nudge could not revoke ends by itself, with no key attached
MAX_NUDGES = 10  # per wait
# polls (0.1 s apart, more under load) without a commit on members that cannot be made to
# commit, before their figures are taken as read: counted, not timed, so a run does the same reads
QUIET_POLLS = 20
LEASE = Live("LEASE")


def nudge_commands(etcd: EtcdConfig) -> tuple[Command, Command]:
    """A write that every member commits and that touches no key and no revision: a lease granted,
    then revoked (its hex id filled in then). What makes a quiet member's space figures count
    what a compaction freed (facts/space.py, Settling)."""
    return (
        etcdctl(etcd, "lease", "grant", str(NUDGE_TTL), "-w", "json"),
        etcdctl(etcd, "lease", "revoke", LEASE),
    )


def nudge(ex: ExecContext, etcd: EtcdConfig) -> str:
    """Make every member commit a write transaction (see nudge_commands): '' when it did, else
    etcdctl's reason."""
    grant, revoke = nudge_commands(etcd)
    result = ex.run(grant, check=False)
    try:
        lease = int(json.loads(result.stdout)["ID"]) if result.ok else 0
    except (ValueError, KeyError, TypeError):
        lease = 0
    if not lease:
        return (result.stderr.strip().splitlines() or ["lease grant gave no id"])[-1]
    ex.run(revoke.fill(LEASE=f"{lease:x}"), check=False)
    return ""


@dataclass
class Nudges:
    """The nudges of one wait for settled figures: how many, whether one was made since the last
    read (`just`, what Settling.observe is told), why none can be made (etcdctl's words), and
    since when nothing moves that a nudge could help."""

    count: int = 0  # made
    tried: int = 0
    just: bool = False
    cannot: str = ""
    quiet: int = 0  # polls in a row with every member waited for still, and no nudge to help

    def after_reads(self, ex: ExecContext, etcd: EtcdConfig, stalled: bool, only: bool) -> bool:
        """After a poll's reads, with stalled members (`only`: every member waited for is): nudge,
        at most MAX_NUDGES times. True when no nudge can help any more and every member waited
        for has been still for QUIET_POLLS polls: its figures are taken as read."""
        self.just = False
        if stalled and not self.cannot and self.tried < MAX_NUDGES:
            self.cannot = nudge(ex, etcd)
            self.tried += 1
            self.count += 0 if self.cannot else 1
            self.just = not self.cannot
            self.quiet = 0
            return False
        if stalled and only:
            self.quiet += 1
            return self.quiet >= QUIET_POLLS
        self.quiet = 0
        return False

    def words(self) -> str:
        """What was done to make quiet members commit, for an outcome ('' for nothing)."""
        made = (
            f"{self.count} lease(s) granted and revoked to make quiet members commit"
            if self.count
            else ""
        )
        if self.cannot:
            made += ("; " if made else "") + f"no lease could be granted: {self.cannot}"
        return made
