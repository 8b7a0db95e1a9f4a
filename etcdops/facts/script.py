"""The one shell script that reads a member host's facts in one SSH round trip: every section
printed as `@@NAME`, its stdout, `@@rc N`, `@@stderr` and its stderr. Built and quoted here; run
by gather.py; read by sections.py."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from etcdops.commands import etcdctl_fragment
from etcdops.facts import gateway
from etcdops.facts import versions as installed
from etcdops.facts.aside import listing_command
from etcdops.facts.certs import certs_section, client_check
from etcdops.inventory import Host
from etcdops.templating import quote, revealed

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
    Few processes besides etcdctl (one stat, one cat, mktemp, rm, ss, awk, df): every fork counts
    (docs/measurements.md).

    First, where etcdctl's member list would stand for health (3.5+ installed) and the host has
    curl, status and the linearizable member list come from etcd's own JSON gateway, both in one
    curl process (see _gateway_first and facts/gateway.py), a third of the CPU on the host.
    Anything but an answer to status (no curl, the gateway
    switched off, TLS refused, etcd not listening) goes on with the etcdctl sections above in the
    same script, whose errors name the cause.
    """
    assert host.etcd is not None
    with revealed():
        # with etcd auth, the credential is passed to these etcdctl invocations only
        ctl = etcdctl_fragment(host.etcd, command_timeout=FACTS_COMMAND_TIMEOUT).shell()
        anonymous = etcdctl_fragment(
            host.etcd, command_timeout=FACTS_COMMAND_TIMEOUT, auth=False
        ).shell()
    stamp_35 = installed.linearizable_member_list(host, known or {})
    commands = {
        "version": installed.section(host, known or {}, stamped=True),
        # without credentials: a learner refuses to authenticate ("rpc not supported for learner"),
        # and
        # etcd serves endpoint status to anyone; health and the member list go with the credentials
        "status": f"( unset ETCDCTL_USER; exec {anonymous} -w json endpoint status )",
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
    if stamp_35:
        # a 3.5+ server answering etcdctl 3.5+'s linearizable member list has served a quorum read:
        # what endpoint health's get proves (alarms come with status). One etcdctl start fewer per
        # member, which is what a wide cluster's read costs; 3.4 servers still get endpoint health
        same = f'if [ "$st" = {quote(stamp_35)} ]; then {section("members")}; else {voter}; fi'
        voter = f"""case "$s" in *'"version":"3.4.'*) {voter};; *) {same};; esac"""
    files = " ".join(f'"$d/{name}.o" "$d/{name}.e"' for name in SECTIONS if name != "gateway")
    return "\n".join(
        [
            f"st=$({installed.stamp_command(host)})" if versions or stamp_35 else ":",
            _gateway_first(host, versions, known, stamp_35, not_listening)
            if stamp_35 and use_gateway
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
    stamp_35: str,
    not_listening: str,
) -> str:
    """Shell: while the installed versions are the ones stamped 3.5+ in the cache, the host has curl
    and etcd listens, status and the member list from etcd's gateway in one curl
    (facts/gateway.py); when status answered, print it as section @@gateway, then the other
    sections one after the other, straight to stdout, and exit: no temporary directory, no
    background shell, no cat (each a process or a fork on the host; the sections but status are
    builtins and a stat or two when nothing changed). Otherwise the script goes on with etcdctl."""
    assert host.etcd is not None
    url = host.etcd.client_url
    sections = ""
    if versions:  # the version section is `cached` here: the stamp is the one stamp_35
        sections = (
            f'echo "@@version"; {{ {installed.section(host, known or {}, stamped=True)}; }} '
            "2>/dev/null; "
            'rc=$?; echo; echo "@@rc $rc"; echo "@@stderr"; '
            f"{certs_section(host, known, into='')}; {{ echo '@@aside'; "
            f"{listing_command(host.etcd)}; }}; "
        )
    return (
        f'if [ "$st" = {quote(stamp_35)} ] && command -v curl >/dev/null 2>&1 && ! {{ '
        f"{not_listening}; }}; then "
        f"o=$({gateway.curl(host.etcd, gateway.requests_of([url], ('status', 'members')))} "
        "2>/dev/null); "
        f'case "$o" in *{quote(gateway.MARK + "200 status ")}*) '
        f"""printf '@@gateway\\n%s\\n@@stderr\\n' "$o"; {sections}exit 0;; esac; fi"""
    )


def _not_listening(client_url: str) -> tuple[str, str]:
    """(where, a shell test true when nothing listens there), so that a stopped etcd is named at
    once instead of after etcdctl's dial timeout. Only when the URL names an IP address (a
    listener on it or on the wildcard); ss is iproute2's; without it, etcdctl decides."""
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
