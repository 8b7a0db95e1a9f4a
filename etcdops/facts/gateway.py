"""etcd's JSON gateway through curl on a host: the status and the linearizable member list of one
or more members in one process, parsed in Python. No I/O here: commands are built, outputs read.

etcd 3.4+ serves the gateway on its client URLs unless started with --enable-grpc-gateway=false.
Both requests are served to anyone, so no credentials are sent; but with etcd auth on and client
certificates etcd refuses its gateway (400: "CommonName of client ... will be ignored"). One curl
costs a third of one etcdctl's CPU on the host (docs/measurements.md); the reads of a wide
cluster and the polls of a long step are made of these.

Only 3.5+ honours `linearizable` on the member list (3.4 ignores the field and answers from its
own state), so an answer counts for health only when that member's status says 3.5 or later.
Whatever the gateway cannot settle (no curl, the gateway off, an answer other than 200 to status,
a 3.4 server) is read again through etcdctl, whose errors name the cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from etcdops.commands import Command
from etcdops.inventory import EtcdConfig
from etcdops.templating import quote

TIMEOUT = "3"  # seconds per request, as the facts' etcdctl --command-timeout
PATHS = {
    "status": ("/v3/maintenance/status", "{}"),
    "members": ("/v3/cluster/member/list", '{"linearizable":true}'),
    # the member list as this member knows it, served without a leader (etcdctl 3.5 has no
    # --consistency for member list): what the cluster was, when it has lost its quorum
    "own_members": ("/v3/cluster/member/list", '{"linearizable":false}'),
    # a serializable read of revision 1 on this member: 400 "required revision has been compacted"
    # once a compaction has reached it (etcdctl get x --rev=1 --consistency=s); with etcd auth on,
    # refused for want of a user, which tells nothing
    "compacted": ("/v3/kv/range", '{"key":"eA==","revision":"1","serializable":true}'),
    # a GET of the member's Prometheus metrics, cut down on the host to FINISHED and KEYS
    "metrics": ("/metrics", ""),
}
# both counted when a member has FINISHED deleting a compaction's old revisions (etcd 3.4-3.6,
# mvcc/kvstore_compaction.go: deferred at the end of scheduleCompaction; keys before count)
FINISHED = "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count"
KEYS = "etcd_debugging_mvcc_db_compaction_keys_total"
# the backend's commits (etcd 3.4-3.6, mvcc/backend): a member's space in use counts the pages a
# write transaction freed only once later ones have committed (see facts/space.py, Settling)
COMMITS = "etcd_disk_backend_commit_duration_seconds_count"
# after each answer: @@gateway CODE KIND N (CODE 000: no answer; N: the request's place)
MARK = "@@gateway "
ERROR = "@@error "  # then curl's own words when it failed (curl 7.75+; empty before)
NO_CURL = "@@gateway-no-curl"


def requests_of(urls: list[str] | tuple[str, ...], kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(kind, url) for url in urls for kind in kinds]


def curl(etcd: EtcdConfig, requests: list[tuple[str, str]]) -> str:
    """Shell: one curl for the (kind, client URL) requests, each answer followed by its MARK line;
    the metrics requests in a second curl whose output the host cuts down to the MARK lines,
    FINISHED, KEYS and COMMITS (~170 KB a member otherwise). curl reads no .curlrc (-q) and goes
    through no proxy (the host's http_proxy would send etcd's traffic elsewhere); -g: an IPv6
    URL's brackets are no glob. The mark names the request by its place, never by its URL: -w
    interprets what it is given (`%{...}`, and `%output{FILE}` writes a file in curl 8.3+), and a
    URL is the inventory's text."""
    tls = [
        f"{flag} {quote(value)}"
        for flag, value in (("--cacert", etcd.cacert), ("--cert", etcd.cert), ("--key", etcd.key))
        if value
    ]
    posts: list[str] = []
    gets: list[str] = []
    for n, (kind, url) in enumerate(requests):
        path, body = PATHS[kind]
        write = f"\\n{MARK}%{{http_code}} {kind} {n}\\n{ERROR}%{{errormsg}}\\n"
        method = ["-X POST -d", quote(body)] if body else []
        (posts if body else gets).append(
            " ".join(
                [
                    "-gsS --noproxy '*' --connect-timeout 2 --max-time",
                    TIMEOUT,
                    *tls,
                    *method,
                    "-w",
                    quote(write),
                    quote(url.rstrip("/") + path),
                ]
            )
        )
    shell = ["curl -q " + " --next ".join(posts)] if posts else []
    if gets:
        keep = quote(f"^(@@|{FINISHED} |{KEYS} |{COMMITS} )")
        shell.append("curl -q " + " --next ".join(gets) + f" | grep -E {keep}")
    return "; ".join(shell)


def command(
    etcd: EtcdConfig, urls: list[str] | tuple[str, ...], kinds: tuple[str, ...] = ("status",)
) -> Command:
    """The requests for every URL as a Command, or NO_CURL printed where the host has no curl."""
    return requests_command(etcd, requests_of(urls, kinds))


def requests_command(etcd: EtcdConfig, requests: list[tuple[str, str]]) -> Command:
    """The requests as one read-only Command, tied to the plan's template(etcd)."""
    text = curl(etcd, requests)
    return Command(
        f"if command -v curl >/dev/null 2>&1; then {text}; else echo {NO_CURL}; fi",
        f"{text}  # etcd's gateway; etcdctl where it cannot tell",
        read_only=True,
        origin=template(etcd).display,
    )


def template(etcd: EtcdConfig) -> Command:
    """What a plan shows for the gateway reads of a step: one curl on the host for the members it
    asks, whichever they are when it asks (the requests are filled in then). It never runs as
    such: its text is a placeholder."""
    tls = " ".join(
        f"{flag} {quote(value)}"
        for flag, value in (("--cacert", etcd.cacert), ("--cert", etcd.cert), ("--key", etcd.key))
        if value
    )
    shown = f"curl -q -gsS --noproxy '*' --max-time {TIMEOUT} {tls} <REQUESTS>".replace("  ", " ")
    return Command(
        "\x00REQUESTS\x00",
        f"{shown}  # etcd's gateway: status, member list, compaction, metrics of the members asked",
        read_only=True,
    )


@dataclass(frozen=True)
class Answer:
    code: int  # HTTP status, 0 when none came
    body: str
    error: str = ""  # curl's, when the request failed

    def json(self) -> Any:
        return json.loads(self.body)


def parse(text: str, requests: list[tuple[str, str]]) -> dict[tuple[str, str], Answer]:
    """curl's output for requests → {(kind, URL): Answer}. The text before each MARK line is its
    answer; a mark that names no request of the list (or the wrong kind) is ignored."""
    answers: dict[tuple[str, str], Answer] = {}
    body: list[str] = []
    last: tuple[str, str] | None = None
    for line in text.splitlines():
        if line.startswith(MARK):
            code, _, rest = line[len(MARK) :].partition(" ")
            kind, _, n = rest.partition(" ")
            last = requests[int(n)] if n.isdigit() and int(n) < len(requests) else None
            if last is not None and last[0] == kind:
                answers[last] = Answer(int(code) if code.isdigit() else 0, "\n".join(body).strip())
            else:
                last = None
            body = []
        elif line.startswith(ERROR) and last is not None:
            answer = answers[last]
            answers[last] = Answer(answer.code, answer.body, line[len(ERROR) :].strip())
        else:
            body.append(line)
    return answers


REFUSED = "CommonName of client sending a request against gateway will be ignored"


def refused(answers: dict[tuple[str, str], Answer]) -> bool:
    """etcd refuses its gateway to this client: auth on, and a client certificate with a CommonName
    (etcd's embed/serve.go; /metrics is no gateway path and still answers)."""
    return any(a.code == 400 and REFUSED in a.body for a in answers.values())


def status_of(answer: Answer | None) -> dict[str, Any] | None:
    """A 200 answer to status as endpoint status's Status object (the gateway prints 64-bit numbers
    as strings, which the parsers read alike); None for anything else."""
    if answer is None or answer.code != 200:
        return None
    try:
        data = answer.json()
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and "header" in data else None


def compacted(answer: Answer | None) -> bool | None:
    """A "compacted" answer: True once the member has applied a compaction past revision 1, False
    while it still serves revision 1, None when the answer tells neither."""
    if answer is None:
        return None
    if answer.code == 200:
        return False
    if answer.code == 400 and "required revision has been compacted" in answer.body:
        return True
    return None


@dataclass(frozen=True)
class Compactions:
    """A member's counters since it started: compactions it has finished, old revisions deleted."""

    finished: int
    keys: int


def compactions(answer: Answer | None) -> Compactions | None:
    """The counters from a metrics answer; None when it has not both (no answer, other metrics)."""
    if answer is None or answer.code != 200:
        return None
    found: dict[str, int] = {}
    for line in answer.body.splitlines():
        name, _, value = line.partition(" ")
        try:
            found[name] = int(float(value))  # Prometheus may write 1.2e+06
        except ValueError:
            continue
    if FINISHED not in found or KEYS not in found:
        return None
    return Compactions(found[FINISHED], found[KEYS])


def commits(answer: Answer | None) -> int | None:
    """The member's backend commits since it started, from a metrics answer; None without."""
    if answer is None or answer.code != 200:
        return None
    for line in answer.body.splitlines():
        name, _, value = line.partition(" ")
        if name == COMMITS:
            try:
                return int(float(value))
            except ValueError:
                return None
    return None


def linearizable(status: dict[str, Any]) -> bool:
    """Its member list is a quorum read: 3.5 or later (3.4 ignores the field)."""
    version = str(status.get("version", ""))
    return bool(version) and not version.startswith(("3.4.", "3.3.", "3.2."))


def proves_health(status: dict[str, Any], members: Answer | None) -> bool:
    """The member answered the linearizable member list, and it is one that honours it."""
    return linearizable(status) and members is not None and members.code == 200


def error_of(answer: Answer | None) -> str:
    """Why a request failed, as etcd worded it when it answered."""
    if answer is not None and answer.body:
        try:
            data = answer.json()
            message = data.get("message") or data.get("error") if isinstance(data, dict) else None
        except json.JSONDecodeError:
            message = None
        if message:
            return str(message)
    if answer is not None and answer.error:
        return answer.error
    if answer is not None and answer.code:
        return f"etcd's gateway answered HTTP {answer.code}"
    else:
        return "no answer"
