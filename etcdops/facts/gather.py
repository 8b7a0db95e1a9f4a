"""Read cluster facts over SSH: one round trip per member host, in parallel. Read-only."""

from __future__ import annotations

import ipaddress
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from etcdops.commands import auth_env
from etcdops.errors import CommandTimeout, EtcdopsError, HostKeyError
from etcdops.facts import gateway
from etcdops.facts import versions as installed
from etcdops.facts.aside import listing_command, parse_listing
from etcdops.facts.certs import certs_section, client_check, parse_certs
from etcdops.facts.etcdctl import etcdctl
from etcdops.facts.model import Alarm, ClusterFacts, EndpointStatus, HostFacts, Member
from etcdops.facts.parse import (
    ParseError,
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
    parse_status_alarms,
)
from etcdops.facts.through import Through
from etcdops.facts.tls import diagnose, parse_client_check
from etcdops.inventory import EtcdConfig, Host, Inventory
from etcdops.templating import quote, revealed
from etcdops.transport.pool import Pool

FACTS_TIMEOUT = 20.0
FACTS_COMMAND_TIMEOUT = "3s"  # per etcdctl call; 3 calls stay well inside FACTS_TIMEOUT
SECTIONS = ("version", "status", "health", "members", "tls", "certs", "aside", "gateway")


def facts_script(
    host: Host,
    versions: bool = True,
    known: dict[str, dict[str, str]] | None = None,
    use_gateway: bool = True,
) -> str:
    """One shell script printing every section as `@@NAME`, its stdout, `@@rc N`, `@@stderr` and
    its stderr.

    Sections run side by side (each etcdctl call is a process start and a round trip): the
    installed versions and the certificates' expiry (only when asked: the running etcd reports its
    own version in endpoint status; not read again while the files are unchanged, see
    facts/versions.py and facts/certs.py) with status, then, once status answered, the member list
    (linearizable with etcdctl 3.5+ against 3.5+, so it stands for health) or health and members
    together. Alarms come with endpoint status (its `errors`), so there is no `alarm list` call.
    Few processes besides etcdctl (one stat, one cat, mktemp, rm, ss, awk, df): every fork counts,
    measured on a 7-member lab sharing two cores (~80 ms of CPU per member per read, of which
    sshd's session ~30 ms and each etcdctl ~18 ms).

    First, where etcdctl's member list would stand for health (3.5+ installed) and the host has
    curl, status and the linearizable member list come from etcd's own JSON gateway, both in one
    curl process (see _gateway_first and facts/gateway.py): 11.6 ms of CPU on the host for the
    whole read instead of 39, measured. Anything but an answer to status (no curl, the gateway
    switched off, TLS refused, etcd not listening) goes on with the etcdctl sections above in the
    same script, whose errors name the cause.
    """
    assert host.etcd is not None
    with revealed():
        ctl = str(etcdctl(host.etcd, command_timeout=FACTS_COMMAND_TIMEOUT))
    seen = installed.linearizable_member_list(host, known or {})
    commands = {
        "version": installed.section(host, known or {}, stamped=True),
        # without credentials: a learner refuses to authenticate ("rpc not supported for learner"),
        # and
        # etcd serves endpoint status to anyone; health and the member list go with the credentials
        "status": f"( unset ETCDCTL_USER; exec {ctl} -w json endpoint status )",
        "health": f"{ctl} -w json endpoint health",
        "members": f"{ctl} -w json member list",
    }

    def section(name: str) -> str:
        # stderr stays in its own file, printed after the section by the script's one cat
        return (
            f'{{ echo "@@{name}"; {{ {commands[name]}; }} 2>"$d/{name}.e"; rc=$?; echo; echo '
            '"@@rc $rc"; '
            f'echo "@@stderr"; }} >"$d/{name}.o"'
        )

    where, not_listening = _not_listening(host.etcd.client_url)
    stopped = (
        f"printf '@@status\\n\\n@@rc 1\\n@@stderr\\nnothing listens on %s: etcd is not running\\n' "
        f'{quote(where)} >"$d/status.o"; rc=1'
    )
    # an etcd that does not answer endpoint status would make every other call wait for its
    # timeout too; a learner refuses linearizable reads (health, member list)
    voter = f"( {section('health')} ) & {section('members')}"
    if seen:
        # a 3.5+ server answering etcdctl 3.5+'s linearizable member list has served a quorum read:
        # what endpoint health's get proves (alarms come with status). One etcdctl start fewer per
        # member, which is what a wide cluster's read costs; 3.4 servers still get endpoint health
        same = f'if [ "$st" = {quote(seen)} ]; then {section("members")}; else {voter}; fi'
        voter = f"""case "$s" in *'"version":"3.4.'*) {voter};; *) {same};; esac"""
    files = " ".join(f'"$d/{name}.o" "$d/{name}.e"' for name in SECTIONS if name != "gateway")
    return "\n".join(
        [
            f"st=$({installed.stamp_command(host)})" if versions or seen else ":",
            _gateway_first(host, versions, known, seen, not_listening)
            if seen and use_gateway
            else ":",
            "d=$(mktemp -d) || exit 1",
            "trap 'rm -rf \"$d\"' EXIT",  # etcdops' own temporary directory, made just above
            f"( {section('version')}; {certs_section(host, known)}; {{ echo '@@aside'; "
            f"{listing_command(host.etcd)}; }} "
            '>"$d/aside.o" ) &'
            if versions
            else ":",
            f"if {not_listening}; then {stopped}; else {section('status')}; fi",
            'if [ "$rc" -eq 0 ]; then { read -r _; read -r s; } <"$d/status.o";',
            f"""case "$s" in *'"isLearner":true'*) ;; *) {voter};; esac; """
            f"else {client_check(host)}; fi",
            "wait",
            # the sections that ran (a file that is absent is a section that did not)
            f"cat {files} 2>/dev/null",
        ]
    )


def _gateway_first(
    host: Host,
    versions: bool,
    known: dict[str, dict[str, str]] | None,
    seen: str,
    not_listening: str,
) -> str:
    """Shell: while the installed versions are the ones seen (3.5+), the host has curl and etcd
    listens, status and the member list from etcd's gateway in one curl (facts/gateway.py); when
    status answered, print it as section @@gateway, then the other sections one after the other,
    straight to stdout, and exit: no temporary directory, no background shell, no cat (each a
    process or a fork on the host; the sections but status are builtins and a stat or two when
    nothing changed). Otherwise the script goes on with etcdctl."""
    assert host.etcd is not None
    url = host.etcd.client_url
    sections = ""
    if versions:  # the version section is `cached` here: the stamp is the one seen
        sections = (
            f'echo "@@version"; {{ {installed.section(host, known or {}, stamped=True)}; }} '
            "2>/dev/null; "
            'rc=$?; echo; echo "@@rc $rc"; echo "@@stderr"; '
            f"{certs_section(host, known, into='')}; {{ echo '@@aside'; "
            f"{listing_command(host.etcd)}; }}; "
        )
    return (
        f'if [ "$st" = {quote(seen)} ] && command -v curl >/dev/null 2>&1 && ! {{ '
        f"{not_listening}; }}; then "
        f"o=$({gateway.curl(host.etcd, gateway.requests_of([url], ('status', 'members')))} "
        "2>/dev/null); "
        f'case "$o" in *{quote(gateway.MARK + "200 status ")}*) '
        f"""printf '@@gateway\\n%s\\n@@stderr\\n' "$o"; {sections}exit 0;; esac; fi"""
    )


def _not_listening(client_url: str) -> tuple[str, str]:
    """(where, a shell test true when nothing listens there), so that a stopped etcd is named at
    once instead of after etcdctl's dial timeout. Only when the URL names an IP address (a listener
    on it or on the wildcard); ss is iproute2's; without it, etcdctl decides."""
    url = urlsplit(client_url)
    port = url.port or 2379
    try:
        ip = ipaddress.ip_address(url.hostname or "")
    except ValueError:
        return f"port {port}", "false"
    where = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    wanted = " || ".join(
        f'$4 == "{a}"' for a in (where, f"0.0.0.0:{port}", f"*:{port}", f"[::]:{port}")
    )
    program = f"{wanted} {{ found = 1 }} END {{ exit !found }}"
    ss = f"command -v ss >/dev/null 2>&1 && ! ss -Hltn 2>/dev/null | awk {quote(program)}"
    if ip.version == 6:
        return where, ss
    # the kernel's own table, one grep instead of ss and awk (~1 ms of CPU instead of ~5.5 per
    # read):
    # a socket in state 0A (LISTEN) on the port, on the address (printed as the host's u32, so both
    # byte orders) or on a wildcard, IPv4's or IPv6's (a dual-stack [::] takes IPv4 too)
    raw = ip.packed
    addresses = "|".join([raw[::-1].hex().upper(), raw.hex().upper(), "0" * 8, "0" * 32])
    pattern = f": ({addresses}):{port:04X} [0-9A-F]+:[0-9A-F]+ 0A "
    proc = f"! grep -qsE {quote(pattern)} /proc/net/tcp /proc/net/tcp6"
    return where, f"if [ -r /proc/net/tcp ]; then {proc}; else {ss}; fi"


def split_sections(output: str) -> dict[str, tuple[int, str, str]]:
    """@@-marked output → {section: (exit code, stdout, its non-empty stderr lines)}."""
    sections: dict[str, tuple[int, str, str]] = {}
    name: str | None = None
    body: list[str] = []
    stderr: list[str] = []
    rc, in_stderr = 0, False

    def close() -> None:
        if name:
            sections[name] = (
                rc,
                "\n".join(body),
                "\n".join(line for line in stderr if line.strip()),
            )

    for line in output.splitlines():
        if line.startswith("@@rc "):
            rc = int(line[5:].strip() or 1)
        elif line == "@@stderr":
            in_stderr = True
        elif line.startswith("@@") and line[2:] in SECTIONS:
            close()
            name, body, stderr, rc, in_stderr = line[2:], [], [], 0, False
        elif in_stderr:
            stderr.append(line)
        else:
            body.append(line)
    close()
    return sections


class ClusterParts:
    """What the hosts' outputs tell about the cluster as a whole: the member list (the leader's
    wins), the cluster id and the alarms."""

    def __init__(self) -> None:
        self.members: list[Member] | None = None
        self.cluster_id: int | None = None
        self.alarms: list[Alarm] = []


def host_facts_from_output(
    host: Host,
    output: str,
    raw: ClusterParts | None = None,
    known: dict[str, dict[str, str]] | None = None,
    learned: dict[str, dict[str, str]] | None = None,
) -> HostFacts:
    assert host.etcd is not None
    return host_facts_from_sections(
        host, _from_gateway(host.etcd, split_sections(output)), raw, known, learned
    )


def host_facts_from_sections(
    host: Host,
    sec: dict[str, tuple[int, str, str]],
    raw: ClusterParts | None = None,
    known: dict[str, dict[str, str]] | None = None,
    learned: dict[str, dict[str, str]] | None = None,
    through: str = "",
) -> HostFacts:
    """A host's facts from its sections (the facts script's, or its gateway's answers read
    through the member host `through`)."""
    assert host.etcd is not None
    etcd_version, ctl_version = installed.parse(
        host,
        sec.get("version", (1, "", ""))[1],
        known or {},
        learned if learned is not None else {},
    )
    status: EndpointStatus | None = None
    error = None
    cause = None
    member_ids: tuple[int, ...] | None = None
    certs = parse_certs(sec["certs"][1], host, known, learned) if "certs" in sec else ()
    aside, data_fs = parse_listing(sec["aside"][1], host.etcd) if "aside" in sec else ((), None)
    try:
        rc, out, err = sec.get("status", (1, "", "no output"))
        if rc == 0:
            status = parse_endpoint_status(out)[0]
        else:
            client = parse_client_check(sec["tls"][1]) if "tls" in sec else None
            cause = diagnose(err, client)
            last = _last(err) or f"etcdctl exited {rc}"
            error = (
                (cause.text if cause.reachable else f"{cause.text} (etcdctl: {last})")
                if cause
                else last
            )
        rc, out, err = sec.get("health", (1, "", ""))
        healthy, health_error = (False, _last(err) or None)
        if status is not None and status.is_learner:
            # learners do not serve the linearizable read of `endpoint health`: answering status is
            # it
            healthy, health_error = True, None
        elif status is not None and "health" not in sec and "members" in sec:
            # the linearizable member list stood for endpoint health (see facts_script)
            m_rc, _, m_err = sec["members"]
            healthy, health_error = (
                (True, None) if m_rc == 0 else (False, _last(m_err) or f"etcdctl exited {m_rc}")
            )
        elif rc == 0 or out.strip().startswith("["):
            healthy, health_error = parse_endpoint_health(out).get(
                host.etcd.client_url, (False, None)
            )
            if not healthy and health_error and "Active Alarm" in health_error:
                # etcdctl calls a member with an alarm (NOSPACE) unhealthy; it is up and serving
                # reads, and the alarm is reported on its own
                healthy, health_error = True, None
        if status is not None and raw is not None:
            raw.alarms.extend(a for a in parse_status_alarms(status.errors) if a not in raw.alarms)
        rc, out, _ = sec.get("members", (1, "", ""))
        if rc == 0:
            cluster_id, members = parse_member_list(out)
            member_ids = tuple(sorted(m.id for m in members))
            if raw is not None and (
                raw.members is None or (status is not None and status.is_leader)
            ):
                raw.cluster_id, raw.members = cluster_id, members  # the leader's list wins
    except (ParseError, KeyError, IndexError, ValueError) as exc:
        error = f"unexpected etcdctl output: {exc}"
        healthy, health_error = False, None
    return HostFacts(
        host=host.name,
        reachable=True,
        status=status,
        healthy=healthy and status is not None,
        health_error=health_error,
        error=error,
        etcd_version=etcd_version or (status.version if status is not None else None),
        etcdctl_version=ctl_version,
        member_ids=member_ids,
        answers=bool(cause and cause.reachable),
        certs=certs,
        aside=aside,
        data_fs=data_fs,
        through=through,
    )


class GatewayUnfit(Exception):
    """The gateway answered, but its member list does not stand for health (a 3.4 server
    running although the installed etcd is 3.5+): read again through etcdctl."""


def _from_gateway(
    etcd: EtcdConfig, sec: dict[str, tuple[int, str, str]]
) -> dict[str, tuple[int, str, str]]:
    """The gateway's answers as the etcdctl sections they stand for: status in endpoint status's
    shape, the member list as it is when it answered (it stands for health), its error otherwise,
    nothing for a learner (which serves no linearizable read, as the etcdctl path never asks it)."""
    if "gateway" not in sec:
        return sec
    _, body, _ = sec.pop(
        "gateway"
    )  # printed by the script only when status answered 200 (curl's stderr: none)
    url = etcd.client_url
    answers = gateway.parse(body, gateway.requests_of([url], ("status", "members")))
    sec.update(gateway_sections(url, answers.get(("status", url)), answers.get(("members", url))))
    return sec


def gateway_sections(
    url: str, status_answer: gateway.Answer | None, members_answer: gateway.Answer | None
) -> dict[str, tuple[int, str, str]]:
    """A member's gateway answers as the etcdctl sections they stand for (see _from_gateway)."""
    status = gateway.status_of(status_answer)
    if status is None:
        raise GatewayUnfit("status is not etcd's")
    if not gateway.linearizable(status):
        raise GatewayUnfit("a 3.4 server's member list is not linearizable")
    sec = {"status": (0, json.dumps([{"Endpoint": url, "Status": status}]), "")}
    if status.get("isLearner"):
        return sec
    if gateway.proves_health(status, members_answer):
        assert members_answer is not None
        sec["members"] = (0, members_answer.body, "")
    else:
        sec["members"] = (1, "", gateway.error_of(members_answer))
    return sec


def _last(err: str) -> str:
    """etcdctl's last word (its own summary line), when no cause could be named."""
    lines = [line for line in err.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def gather(
    inventory: Inventory,
    pool: Pool,
    hosts: list[Host] | None = None,
    timeout: float = FACTS_TIMEOUT,
    versions: bool = True,
    through: Through | None = None,
) -> ClusterFacts:
    """Facts of the inventory's members (or hosts) and of any other member the cluster lists.

    versions=False skips the installed binaries' versions (the running etcd's own comes with
    endpoint status): for the re-reads during a run, which need live state only. With through,
    those re-reads ask every member's etcd through one member host where it can (facts/through.py).
    """
    targets = [h for h in (hosts if hosts is not None else inventory.members) if h.etcd is not None]
    raw = ClusterParts()
    known = (
        installed.load()
    )  # also for re-reads without versions: the member list stands for health
    learned: dict[str, dict[str, str]] = {}

    def one(name: str) -> HostFacts:
        host = inventory.host(name)
        # etcd auth goes over stdin into the remote shell's environment, never into an argument
        env = {k: v.reveal() for k, v in auth_env(host.etcd)} or None
        result = pool.get(name).run(facts_script(host, versions, known), timeout, env=env)
        try:
            return host_facts_from_output(host, result.stdout, raw, known, learned)
        except GatewayUnfit:
            result = pool.get(name).run(
                facts_script(host, versions, known, use_gateway=False), timeout, env=env
            )
            return host_facts_from_output(host, result.stdout, raw, known, learned)

    if through is not None and not versions:
        results = _read_through(pool, targets, through, one, timeout, raw, learned)
    else:
        results = pool.map(targets, one)
    # a second round for hosts that are members of the cluster but not (yet) in the etcd group,
    # e.g. right after a scale-out, so that status and waits see the whole cluster
    gathered = {h.name for h in targets}
    extra = [
        h
        for m in (raw.members or [])
        if (h := _host_of_member(inventory, m)) is not None
        and h.name not in gathered
        and h.etcd is not None
    ]
    if extra:
        results.update(pool.map(extra, one))
    installed.save(known, learned)
    host_facts: dict[str, HostFacts] = {}
    keys = [res for res in results.values() if isinstance(res, HostKeyError)]
    if keys:  # a security event, never an unhealthy or unreachable member: every command stops here
        raise keys[0]
    for name, res in results.items():
        if isinstance(res, BaseException):
            if not isinstance(res, EtcdopsError):
                raise res
            # reached over SSH, but etcdctl hung: the host is reachable, its etcd is not answering
            reachable = isinstance(res, CommandTimeout)
            host_facts[name] = HostFacts(host=name, reachable=reachable, error=str(res))
        else:
            host_facts[name] = res
    facts = assemble(inventory, host_facts, raw.members or [], raw.cluster_id, raw.alarms)
    if through is not None and not versions:
        through.observe(facts)
    return facts


def _read_through(
    pool: Pool,
    targets: list[Host],
    through: Through,
    one: Callable[[str], HostFacts],
    timeout: float,
    raw: ClusterParts,
    learned: dict[str, dict[str, str]],
) -> dict[str, HostFacts | BaseException]:
    """The via host's one curl for the hosts it is asked for, the others' own reads alongside it,
    then the own reads of whatever the curl did not settle."""
    asked = [h for h in targets if through.asks(h.name)]
    with ThreadPoolExecutor(max_workers=1) as side:
        pending = side.submit(through.read, asked, timeout)
        results = pool.map([h for h in targets if h not in asked], one)
        answers = pending.result()
    for host in asked:
        found = answers.get(host.name)
        if found is not None and host.etcd is not None:
            sections = gateway_sections(host.etcd.client_url, *found)
            results[host.name] = host_facts_from_sections(
                host, sections, raw, None, learned, through=str(through.via)
            )
    results.update(pool.map([h for h in asked if h.name not in answers], one))
    return results


def _host_of_member(inventory: Inventory, member: Member) -> Host | None:
    host = inventory.by_member_name(member.name) if member.name else None
    return host or next((h for u in member.peer_urls if (h := inventory.by_peer_url(u))), None)


def assemble(
    inventory: Inventory,
    host_facts: dict[str, HostFacts],
    members: list[Member],
    cluster_id: int | None,
    alarms: list[Alarm],
) -> ClusterFacts:
    member_hosts: dict[int, str] = {}
    for name, hf in host_facts.items():
        if hf.status is not None:
            member_hosts[hf.status.member_id] = name
    for m in members:
        if m.id in member_hosts:
            continue
        host = _host_of_member(inventory, m)
        if host is not None:
            member_hosts[m.id] = host.name
    # a leader counts only if it answered and says so itself: right after a quorum loss the
    # survivors still name the old leader for an election timeout or so
    leaders = Counter(
        hf.status.leader for hf in host_facts.values() if hf.status and hf.status.leader
    )
    leader_id = leaders.most_common(1)[0][0] if leaders else None
    if leader_id is not None and not any(
        hf.status and hf.status.is_leader and hf.status.member_id == leader_id
        for hf in host_facts.values()
    ):
        leader_id = None
    if cluster_id is None:
        ids = Counter(hf.status.cluster_id for hf in host_facts.values() if hf.status)
        cluster_id = ids.most_common(1)[0][0] if ids else None
    return ClusterFacts(
        hosts=host_facts,
        members=tuple(members),
        alarms=tuple(alarms),
        cluster_id=cluster_id,
        leader_id=leader_id,
        leader_host=member_hosts.get(leader_id) if leader_id else None,
        member_hosts=member_hosts,
        read_at=time.monotonic(),
    )
